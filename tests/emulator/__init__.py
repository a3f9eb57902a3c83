"""Tests of the face-fusion API emulator (local_stack.emulator), through real HTTP(S) calls."""
