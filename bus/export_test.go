package bus

import "time"

// SetBeforeMetaWrite sets the hook that runs between updateMeta's read of
// an object's meta message and its write, and returns the function that
// takes it away.
func SetBeforeMetaWrite(f func(name string)) (undo func()) {
	beforeMetaWrite = f
	return func() { beforeMetaWrite = nil }
}

// OnceBeforeMetaWrite makes f run once, the first time updateMeta or
// PutRunData is between its read of an object's meta and its write (and
// not again from within f), and returns the function that takes the hook
// away.
func OnceBeforeMetaWrite(f func()) (undo func()) {
	return SetBeforeMetaWrite(func(string) {
		beforeMetaWrite = nil
		f()
	})
}

// SetBeforeLookAgain sets the hook that runs when a read of an object did
// not find it and is about to look again, and returns the function that
// takes it away.
func SetBeforeLookAgain(f func(name string)) (undo func()) {
	beforeLookAgain = f
	return func() { beforeLookAgain = nil }
}

// SetObjectSetupTimeout sets how long a read of an object waits, at
// least, for the consumer of its chunks to be created, and returns the
// function that puts the default back.
func SetObjectSetupTimeout(d time.Duration) (undo func()) {
	old := objectSetupTimeout
	objectSetupTimeout = d
	return func() { objectSetupTimeout = old }
}
