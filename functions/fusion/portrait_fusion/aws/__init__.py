"""S3 objects as the pipeline sees them, and erasure of a pair's every object and record."""
