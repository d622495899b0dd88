// CacheWarmer: the worker that applies replication changes to Redis (issue 6).
// Nothing is implemented here yet.
