"""The lab's two functions, as its readers deploy them: the benchmark's baseline.

Each folder holds one handler.py, packaged alone (boto3 comes from the runtime). The code keeps
the lab's shape on purpose; only names the lab hard-codes (table, topic) come from the
environment, and the keys match this project's table (store, item, count).
"""
