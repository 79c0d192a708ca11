import boto3
def handler(e, c):
    out = {}
    s3 = boto3.client("s3")
    for op, f in [("get", lambda: s3.get_object(Bucket="auth-bkt", Key="k")["Body"].read().decode()), ("put", lambda: s3.put_object(Bucket="auth-bkt", Key="k2", Body=b"x") and "ok")]:
        try: out[op] = f()
        except Exception as ex: out[op] = str(ex)[:150]
    out["who"] = boto3.client("sts").get_caller_identity()["Arn"]
    return out
