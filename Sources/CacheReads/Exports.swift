// A service imports only CacheReads: keys and parameters (`KeyPart`, `JSONValue`) come from the
// contract module, versions (`LSN`) from PGOutput, Redis call counters from RedisCache.
@_exported import struct CacheContract.KeyPart
@_exported import enum CacheContract.JSONValue
@_exported import struct CacheContract.JSONNumber
@_exported import enum CacheContract.FillOutcome
@_exported import struct PGOutput.LSN
@_exported import struct RedisCache.RedisClientStatistics
