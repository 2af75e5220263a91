package bus

// SetBeforeMetaWrite sets the hook that runs between updateMeta's read of
// an object's meta message and its write, and returns the function that
// takes it away.
func SetBeforeMetaWrite(f func(name string)) (undo func()) {
	beforeMetaWrite = f
	return func() { beforeMetaWrite = nil }
}
