// A service imports only CacheReads: keys and parameters (`KeyPart`, `JSONValue`) come from the
// contract module, versions (`LSN`) from PGOutput.
@_exported import struct CacheContract.KeyPart
@_exported import enum CacheContract.JSONValue
@_exported import struct CacheContract.JSONNumber
@_exported import enum CacheContract.FillOutcome
@_exported import struct PGOutput.LSN
