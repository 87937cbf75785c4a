package publish

// SetChunking sets the request budget and smallest chunk for a test and
// returns a function restoring them.
func SetChunking(budget, least int) func() {
	b, l := chunkBytes, minChunk
	chunkBytes, minChunk = budget, least
	return func() { chunkBytes, minChunk = b, l }
}
