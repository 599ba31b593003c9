"""Background work (key deletions, rotations), one runner per job across nodes.

A job runs on a node only while that node holds the job's lease in the
database (`leases`), so any number of nodes sharing PostgreSQL run each job
once at a time. Each job does its work item by item, each item in its own
writer unit that (1) proves the lease is still this node's and renews it
(`JobRun.hold`, the fence), (2) re-checks the item is still due, (3) does the
work and appends its audit event. A leader that dies mid-way leaves nothing
half-done, and the next leader finishes the rest without repeating any: every
item's effect and its audit event happen exactly once.

Time: every decision uses the node's injected clock (`garrison.clock`). A
lease taken at `now` lasts until `now + lease_seconds` (60 s by default) and
is renewed by each item, so a long run keeps it while it makes progress; a
lease is free once `expires_at <= now` on the clock of the node asking. A
node that is killed holds its lease until it lapses; in dev mode tests move
the other node's clock past it (`POST /_garrison/clock`) instead of waiting.
The holder is the node id (`--node-id`, random per process by default): a
node restarted with the same id takes its own lease back at once, so two live
nodes must never share an id (their audit chains would collide too).

Failure: a job that raises is logged and reported as -1 by `run_due`, and its
lease is released at once (in a `finally`); should the release itself fail,
the lease lapses on its own. `run_due` never raises, so the periodic loop
survives a database outage.
"""
