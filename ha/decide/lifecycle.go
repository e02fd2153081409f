package decide

import "fmt"

// lifecycle decides for a member whose data directory is not (yet) a
// member of the cluster: an empty one is bootstrapped (the cluster is not
// initialized) or cloned from the leader; one holding another system than
// the initialize key names is refused. ok is false for a member with a
// data directory of the cluster, which the other rules decide for.
func lifecycle(in Input) (Decision, bool) {
	self, c := in.Self, in.Cluster
	if !self.Empty {
		if self.SystemID != "" && c.Initialize != "" && self.SystemID != c.Initialize {
			return Decision{Action: Wait, Reason: fmt.Sprintf(
				"refusing to run: the data directory holds system %s, the cluster was initialized with system %s",
				self.SystemID, c.Initialize)}, true
		}
		return Decision{}, false
	}
	holder := c.LeaderName()
	switch {
	case in.Settings.Pause:
		return Decision{Action: Wait, Reason: "maintenance mode (pause): the data directory is empty, not creating it"}, true
	case !c.Initialized:
		return Decision{Action: Bootstrap, Reason: "the cluster is not initialized: racing for the initialize key to bootstrap it"}, true
	case holder == "" && c.Initialize == "":
		return Decision{Action: Wait, Reason: "another member is bootstrapping the cluster: waiting for its leader"}, true
	case holder == "":
		return Decision{Action: Wait, Reason: "the data directory is empty and no member leads: waiting for a leader to create a replica from"}, true
	case holder == self.Name:
		return Decision{Action: Wait, ReleaseKey: true, Reason: "holding the leader key with an empty data directory: releasing it"}, true
	}
	if m, ok := c.Member(holder); !ok || !m.Data.IsRunning() {
		return Decision{Action: Wait, Leader: holder,
			Reason: fmt.Sprintf("the data directory is empty: waiting for the leader %s to run before creating a replica", holder)}, true
	}
	return Decision{Action: CreateReplica, Leader: holder,
		Reason: fmt.Sprintf("the data directory is empty: creating a replica of the leader %s", holder)}, true
}
