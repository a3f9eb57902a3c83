"""What a pair is, in plain functions over plain data: the naming convention, the similarity
rules, the correlation id, where a stack keeps pairs."""
