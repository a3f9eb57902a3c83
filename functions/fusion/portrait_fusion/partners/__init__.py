"""Lone halves: the markers a waiting half leaves, and the sweep that fails a pair whose partner
never came."""
