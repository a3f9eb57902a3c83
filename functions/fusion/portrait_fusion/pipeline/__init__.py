"""Running a pair: from an event's object to a complete pair, one guarded merge (or re-use), its
outputs, and what the pipeline answers. Collaborators are reached through `ports`."""
