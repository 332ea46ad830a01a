package qthr

// LiveHandles exposes the number of job handles not yet released, for tests.
func LiveHandles() int64 { return liveHandles.Load() }
