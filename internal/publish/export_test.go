package publish

// SetChunking sets the request budget and smallest chunk for a test and
// returns a function restoring them.
func SetChunking(budget, least int) func() {
	b, l := chunkBytes, minChunk
	chunkBytes, minChunk = budget, least
	return func() { chunkBytes, minChunk = b, l }
}

// SetStreaming sets the smallest streamed file and the batch size for a
// test and returns a function restoring them.
func SetStreaming(least int64, batch int) func() {
	l, b := streamMin, batchBytes
	streamMin, batchBytes = least, batch
	return func() { streamMin, batchBytes = l, b }
}
