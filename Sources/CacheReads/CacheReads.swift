// CacheReads: the read-path library embedded in services (issue 7).
// Nothing is implemented here yet.
