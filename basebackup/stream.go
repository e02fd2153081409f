package basebackup

import (
	"context"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// archiveStream reads the tar archives of a BASE_BACKUP response in the
// framing of PostgreSQL 15 and later: one COPY stream whose CopyData
// messages are typed: 'n' starts an archive (name, tablespace path), 'd'
// carries its bytes, 'p' reports progress, 'm' starts the server's manifest.
type archiveStream struct {
	ctx    context.Context
	conn   *pgconn.PgConn
	buf    []byte   // unread bytes of the current archive (in the last message)
	next   *archive // announced, not yet returned by Next
	open   bool     // an archive has been returned and may have bytes left
	done   bool     // CopyDone received
	onData func(n int)
}

type archive struct {
	Name string // "base.tar", "<oid>.tar" or "manifest"
	Path string // tablespace location; "" for the base archive
}

// Next returns the next archive and a reader of its bytes, or io.EOF after
// the last one. The reader is valid until the next call of Next.
func (s *archiveStream) Next() (archive, io.Reader, error) {
	if s.open {
		if _, err := io.Copy(io.Discard, archiveReader{s}); err != nil {
			return archive{}, nil, err
		}
	}
	for s.next == nil && !s.done {
		if err := s.receive(); err != nil {
			return archive{}, nil, err
		}
	}
	if s.next == nil {
		return archive{}, nil, io.EOF
	}
	a := *s.next
	s.next, s.open = nil, true
	return a, archiveReader{s}, nil
}

func (s *archiveStream) receive() error {
	msg, err := s.conn.ReceiveMessage(s.ctx)
	if err != nil {
		return fmt.Errorf("receive backup stream: %w", err)
	}
	switch m := msg.(type) {
	case *pgproto3.CopyOutResponse, *pgproto3.NoticeResponse:
	case *pgproto3.CopyData:
		return s.copyData(m.Data)
	case *pgproto3.CopyDone:
		s.done = true
	case *pgproto3.ErrorResponse:
		return pgconn.ErrorResponseToPgError(m)
	default:
		return fmt.Errorf("backup stream: unexpected %T", msg)
	}
	return nil
}

func (s *archiveStream) copyData(d []byte) error {
	if len(d) == 0 {
		return nil
	}
	switch d[0] {
	case 'n':
		name, rest, err := cString(d[1:])
		if err != nil {
			return err
		}
		path, _, err := cString(rest)
		if err != nil {
			return err
		}
		s.next = &archive{Name: name, Path: path}
	case 'd':
		// The message's bytes stay valid until the next receive, which
		// comes only once they are read: no copy.
		s.buf = d[1:]
	case 'm':
		s.next = &archive{Name: "manifest"}
	case 'p':
		// progress in bytes; we count what we read ourselves
	default:
		return fmt.Errorf("backup stream: unknown message type %q", d[0])
	}
	return nil
}

// archiveReader reads the current archive's bytes; io.EOF at its end.
type archiveReader struct{ s *archiveStream }

func (r archiveReader) Read(p []byte) (int, error) {
	s := r.s
	for len(s.buf) == 0 {
		if s.next != nil || s.done {
			return 0, io.EOF
		}
		if err := s.receive(); err != nil {
			return 0, err
		}
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	if s.onData != nil {
		s.onData(n)
	}
	return n, nil
}

func cString(b []byte) (string, []byte, error) {
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), b[i+1:], nil
		}
	}
	return "", nil, fmt.Errorf("backup stream: unterminated string")
}
