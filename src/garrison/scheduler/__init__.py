"""Background work (key deletions, rotations, audit digests), one runner per job.

A job runs on a node only while that node holds the job's lease in the
database, so any number of nodes sharing PostgreSQL run each job once. Each
job does its work item by item, each item in its own transaction that
re-checks the item is still due: a leader that dies mid-way leaves nothing
half-done, and the next leader finishes the rest without repeating any.
"""
