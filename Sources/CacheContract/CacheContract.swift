// CacheContract: key names, LSN-versioned value formats and the Lua scripts shared by the
// worker and the readers (issue 5). Nothing is implemented here yet.
