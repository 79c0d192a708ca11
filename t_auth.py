import boto3, json
kw = dict(endpoint_url="http://127.0.0.1:4798", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
s3 = boto3.client("s3", **kw); iam = boto3.client("iam", **kw); lam = boto3.client("lambda", **kw)
s3.create_bucket(Bucket="auth-bkt"); s3.put_object(Bucket="auth-bkt", Key="k", Body=b"hello")
def tr(n, f):
    try: r=f(); r.pop("ResponseMetadata", None) if isinstance(r, dict) else None; print(n, "OK", json.dumps(r, default=str)[:400])
    except Exception as e: print(n, "ERR", str(e)[:300])
tr("fn with missing role", lambda: lam.create_function(FunctionName="a0", Runtime="python3.12", Role="arn:aws:iam::000000000000:role/missing", Handler="h.handler", Code={"ZipFile": open("authfn.zip","rb").read()}))
iam.create_role(RoleName="lr", AssumeRolePolicyDocument=json.dumps({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}))
iam.put_role_policy(RoleName="lr", PolicyName="p", PolicyDocument=json.dumps({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::auth-bkt/*"}]}))
tr("create fn", lambda: lam.create_function(FunctionName="a1", Runtime="python3.12", Role="arn:aws:iam::000000000000:role/lr", Handler="h.handler", Code={"ZipFile": open("authfn.zip","rb").read()})["State"])
lam.get_waiter("function_active_v2").wait(FunctionName="a1")
tr("invoke", lambda: json.loads(lam.invoke(FunctionName="a1")["Payload"].read()))
bad = boto3.client("s3", endpoint_url="http://127.0.0.1:4798", region_name="us-east-1", aws_access_key_id="AKIAFAKEFAKEFAKE1234", aws_secret_access_key="x")
tr("unknown key", lambda: bad.list_buckets())
B="auth-bkt"
pol = {"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecure","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":[f"arn:aws:s3:::{B}",f"arn:aws:s3:::{B}/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}
tr("put policy", lambda: s3.put_bucket_policy(Bucket=B, Policy=json.dumps(pol)))
tr("root get after SecureTransport deny (http)", lambda: s3.get_object(Bucket=B, Key="k")["Body"].read().decode())
