//go:build !linux

package restore

// oDirect is 0 where O_DIRECT is not available: writes are buffered.
const oDirect = 0
