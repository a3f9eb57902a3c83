"""The Pair API: presigned uploads, a template catalogue and pair status for apps."""
