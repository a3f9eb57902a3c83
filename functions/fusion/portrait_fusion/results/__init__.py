"""What a pair leaves behind: the result document, the rule that keeps a good result, completion
events."""
