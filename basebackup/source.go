package basebackup

// String names the source for logs and manifests: "m1 (127.0.0.1:5432)".
func (s Source) String() string {
	if s.Member != "" {
		return s.Member + " (" + address(s.Conn) + ")"
	}
	return address(s.Conn)
}
