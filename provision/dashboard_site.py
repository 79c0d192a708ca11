"""The dashboard's static site: site/ and its config.json, in an S3 bucket of its own whose
policy lets anyone read those files and nothing else."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from provision.aws import Aws, Changes, ignore_missing
from provision.stack import Stack
from provision.storage import ensure_bucket

SITE = Path(__file__).resolve().parent.parent / "site"
SITE_FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
CONFIG_KEY = "config.json"
# Public ACLs stay blocked; only the bucket policy may grant public reads (site_policy).
PUBLIC_POLICY_ONLY = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": False,
    "RestrictPublicBuckets": False,
}
WEBSITE = {"IndexDocument": {"Suffix": "index.html"}}


def site_policy(stack: Stack, bucket: str) -> dict[str, Any]:
    """Anyone may read the site's own files, and nothing else: no listing, no other keys."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PublicSiteFiles",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": [
                    f"{stack.bucket_arn(bucket)}/{key}" for key in sorted([*SITE_FILES, CONFIG_KEY])
                ],
            }
        ],
    }


def ensure_site_bucket(aws: Aws, stack: Stack, bucket: str, changes: Changes) -> None:
    """A bucket served as a website, its site files readable by anyone, encrypted at rest.

    Public ACLs stay blocked; only the bucket policy may grant public reads, and it grants
    s3:GetObject on the site's own keys.
    """
    # Not versioned: each deployment overwrites the site's few files.
    policy = site_policy(stack, bucket)
    ensure_bucket(aws, bucket, stack.region, policy, changes, PUBLIC_POLICY_ONLY, versioned=False)
    s3 = aws.s3
    current_website = ignore_missing(
        lambda: s3.get_bucket_website(Bucket=bucket), "NoSuchWebsiteConfiguration"
    )
    if (current_website or {}).get("IndexDocument") != WEBSITE["IndexDocument"]:
        s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=WEBSITE)
        changes.record("updated", "bucket website", bucket)


def site_files(config: dict[str, Any]) -> dict[str, tuple[bytes, str]]:
    """Each key of the site: its bytes and content type."""
    files = {key: ((SITE / key).read_bytes(), kind) for key, kind in SITE_FILES.items()}
    files[CONFIG_KEY] = (
        (json.dumps(config, indent=2, sort_keys=True) + "\n").encode(),
        "application/json; charset=utf-8",
    )
    return files


def digest(body: bytes) -> str:
    """The ETag S3 gives an object put in one part: the MD5 of its bytes, in hex."""
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


def site_digests() -> dict[str, str]:
    """Each static file of the site (config.json aside, which follows from the ids) -> its
    digest, as the planner compares them with the bucket's."""
    return {key: digest((SITE / key).read_bytes()) for key in SITE_FILES}


def uploaded_digests(aws: Aws, bucket: str) -> dict[str, str | None]:
    """Each static file of the site -> the digest of what the bucket holds (None: absent)."""
    found = {key: head(aws, bucket, key) for key in SITE_FILES}
    return {key: got.get("ETag", "").strip('"') if got else None for key, got in found.items()}


def upload_site(aws: Aws, bucket: str, config: dict[str, Any], changes: Changes) -> None:
    """Upload each site file whose bytes or headers differ from what is there.

    `no-cache` makes browsers revalidate, so a redeployed page or configuration shows at once.
    """
    for key, (body, content_type) in site_files(config).items():
        there = head(aws, bucket, key)
        if (
            there is not None
            and there.get("ETag", "").strip('"') == digest(body)
            and there.get("ContentType") == content_type
            and there.get("CacheControl") == "no-cache"
        ):
            continue
        aws.s3.put_object(
            Bucket=bucket, Key=key, Body=body, ContentType=content_type, CacheControl="no-cache"
        )
        changes.record("updated", "site file", key)


def head(aws: Aws, bucket: str, key: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = ignore_missing(
        lambda: aws.s3.head_object(Bucket=bucket, Key=key)
    )
    return found
