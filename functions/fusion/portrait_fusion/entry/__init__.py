"""Receiving events and handing back: the Lambda handlers, the object graph they build once per
container, every event kind mapped to its answer, and when a handed-back message returns."""
