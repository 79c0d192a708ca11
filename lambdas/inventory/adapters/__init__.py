"""Small adapters around the AWS calls the functions make; the only place boto3 is used."""
