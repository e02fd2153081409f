//go:build !linux

package repo

import (
	"errors"
	"io"
)

// mapFile is not available here: EncodeFile reads through buffers.
func mapFile(io.ReaderAt, int64) ([]byte, func(), error) {
	return nil, nil, errors.ErrUnsupported
}
