"""Scale-out: job state in Redis, jobs on RQ, staging owned by leases in a directory every host mounts.

Imported only when ``LANGFLIX_REDIS_URL`` is set or ``langflix worker`` runs
(redis and rq are the optional ``[redis]`` extra). One question per module:

- ``connection``: reaching Redis, and what an outage looks like to a caller;
- ``keys``: the names of everything LangFlix keeps in Redis;
- ``store``: :class:`~langflix.api.scale.store.RedisJobStore`, the job store in Redis;
- ``leases``: a job's lease (taken, renewed, released) and the checker the temp sweep asks;
- ``runner``: :class:`~langflix.api.scale.runner.RQJobRunner`, the API's side of the queue;
- ``horse``: what a work horse runs for one job (the embedded pool's own code);
- ``worker``: :class:`~langflix.api.scale.worker.LangFlixWorker` and ``langflix worker``'s loop;
- ``backend``: the store and runner of an API server, opened together.
"""
