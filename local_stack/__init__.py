"""The local stack: AWS on moto's server, a face-fusion API emulator, a local SQS mapping."""
