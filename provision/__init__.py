"""Builds, describes and destroys one inventory stack with boto3: `python -m provision --help`."""
