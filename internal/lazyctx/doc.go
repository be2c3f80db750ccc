// Package lazyctx bounds a context by a deadline without making a timer
// until something waits for it.
//
// context.WithDeadline costs a timer, a cancelable context and, under a
// cancelable parent, an entry in the parent's set of children, made and
// undone on every call. A node makes one for every kv request it sends or
// serves, and most of them are over in microseconds without anything ever
// waiting on their Done channel: a read of a key takes no lock and waits
// for no raft command. WithDeadline here returns a context whose Err
// compares the clock with the deadline, and which makes the real one
// (context.WithDeadline) the first time Done is called: by a select that
// waits, a context.AfterFunc, or a context derived with WithCancel.
//
// Invariants:
//   - Deadline is the earlier of the deadline and the parent's.
//   - Once Err returns an error, it returns that error ever after, and
//     Done is closed.
//   - Before Done is called, Err is the parent's error, or
//     context.DeadlineExceeded once the deadline has passed; after, it is
//     the real context's.
//   - The release function returned with the context stops the timer, if
//     one was made; it must be called, as context.CancelFunc must.
package lazyctx
