package pg

// SlotNameRule says in words what ValidSlotName accepts, for messages.
const SlotNameRule = "1-63 of a-z, 0-9 and _"

// ValidSlotName reports whether PostgreSQL accepts name as a replication
// slot name: 1 to 63 (NAMEDATALEN - 1) lower-case letters, digits and
// underscores.
func ValidSlotName(name string) bool {
	if len(name) == 0 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// ClusterNameRule says in words what ValidClusterName accepts, for messages.
const ClusterNameRule = "up to 63 letters, digits, '_', '.' or '-', starting with a letter or digit"

// ValidClusterName reports whether name may name a cluster (Patroni's
// scope): it is a path element in etcd and in the repository.
func ValidClusterName(name string) bool {
	if len(name) == 0 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			return false
		}
	}
	return true
}
