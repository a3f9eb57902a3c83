"""Images and preflight: magic bytes, decoding (EXIF orientation, HEIF), conversion, and the API's
input rules."""
