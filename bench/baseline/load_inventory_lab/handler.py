# Load-Inventory Lambda function, the way the lab writes it.
#
# This function is triggered by an object being created in an Amazon S3 bucket.
# The file is downloaded and each line is inserted into a DynamoDB table.
# (Benchmark baseline: kept as the lab has it, one PutItem per row.)

import csv
import json
import os
import urllib.parse
from typing import Any

import boto3

# Connect to S3 and DynamoDB
s3 = boto3.resource("s3")
dynamodb = boto3.resource("dynamodb")

# Connect to the DynamoDB tables
inventoryTable = dynamodb.Table(os.environ.get("TABLE_NAME", "Inventory"))


# This handler is run every time the Lambda function is triggered
def lambda_handler(event: dict[str, Any], context: Any) -> str:
    # Show the incoming event in the debug log
    print("Event received by Lambda function: " + json.dumps(event, indent=2))

    # Get the bucket and object key from the Event
    bucket = event["Records"][0]["s3"]["bucket"]["name"]
    key = urllib.parse.unquote_plus(event["Records"][0]["s3"]["object"]["key"])
    localFilename = "/tmp/inventory.txt"

    # Download the file from S3 to the local filesystem
    try:
        s3.meta.client.download_file(bucket, key, localFilename)
    except Exception as e:
        print(e)
        print(
            f"Error getting object {key} from bucket {bucket}. Make sure they exist and your "
            "bucket is in the same region as this function."
        )
        raise e

    # Read the Inventory CSV file
    with open(localFilename) as csvfile:
        reader = csv.DictReader(csvfile, delimiter=",")

        # Read each row in the file
        rowCount = 0
        for row in reader:
            rowCount += 1

            # Show the row in the debug log
            print(row["store"], row["item"], row["count"])

            try:
                # Insert Store, Item and Count into the Inventory table
                inventoryTable.put_item(
                    Item={"store": row["store"], "item": row["item"], "count": int(row["count"])}
                )

            except Exception as e:
                print(e)
                print("Unable to insert data into DynamoDB table")

        # Finished!
        return f"{rowCount} counts inserted"
