package decide

import "github.com/pgkeep/pgkeep/pg"

// Election is the outcome of an election for a free leader key.
type Election struct {
	// Winner is the member that should take the key, "" when none can.
	Winner string
	// Reason summarises the outcome.
	Reason string
	// Candidates are every member considered, by name.
	Candidates []Candidate
}

// Candidate is one member in an election.
type Candidate struct {
	Name     string
	LSN      pg.LSN
	Timeline uint32
	Priority int
	// Excluded says why the member cannot win; "" for the winner.
	Excluded string
}

// Candidate returns the candidate called name.
func (e *Election) Candidate(name string) (Candidate, bool) {
	if e == nil {
		return Candidate{}, false
	}
	for _, c := range e.Candidates {
		if c.Name == name {
			return c, true
		}
	}
	return Candidate{}, false
}
