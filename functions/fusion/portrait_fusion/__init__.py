"""Portrait Fusion: pairs of uploaded portraits in, AILabTools face-fusion results out."""
