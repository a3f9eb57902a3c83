"""The one fake AWS account and region everything local lives in.

Kept apart from the modules that import boto3 or moto, so Lambda worker processes can use
these names without paying for those imports at every cold start.
"""

ACCOUNT_ID = "123456789012"  # moto's default account: ARNs built here must match moto's
REGION = "us-east-1"
