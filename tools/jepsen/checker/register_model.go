package checker

import (
	"fmt"
	"math"
	"sort"

	"github.com/anishathalye/porcupine"

	"github.com/shardingsystem/shard/tools/jepsen/history"
)

// The register model for porcupine: one key's row, absent or holding an
// integer.

// regState is a register: no row, or a row with value v.
type regState struct {
	present bool
	v       int64
}

func (s regState) String() string {
	if !s.present {
		return "no row"
	}
	return fmt.Sprint(s.v)
}

// regInput is what a client asked.
type regInput struct {
	f        string // history.FRead, FWrite, FCAS
	old, new int64  // cas: old, new; write: new
}

// regOutcome is how an operation ended, as far as the model cares.
type regOutcome uint8

const (
	regOK      regOutcome = iota // it happened, with its results
	regUnknown                   // Info: it may or may not have happened
	regNoMatch                   // a cas that found no row holding old
)

// regOutput is what the client saw.
type regOutput struct {
	outcome regOutcome
	read    regState // a read's result
}

var registerModel = porcupine.Model{
	Init: func() any { return regState{} },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(regState), input.(regInput), output.(regOutput)
		switch in.f {
		case history.FRead:
			return out.read == s, s
		case history.FWrite:
			return true, regState{present: true, v: in.new}
		default: // cas
			match := s.present && s.v == in.old
			switch out.outcome {
			case regOK:
				return match, regState{present: true, v: in.new}
			case regNoMatch:
				return !match, s
			default:
				// Info: if it took effect, it did where it matched; if it did
				// not, it can be placed at the end of time (it never
				// returned), where its effect is seen by no one.
				if match {
					return true, regState{present: true, v: in.new}
				}
				return true, s
			}
		}
	},
	Hash: func(state any) uint64 {
		s := state.(regState)
		if !s.present {
			return math.MaxUint64
		}
		return uint64(s.v)
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(regInput), output.(regOutput)
		var d string
		switch in.f {
		case history.FRead:
			d = "read → " + out.read.String()
		case history.FWrite:
			d = fmt.Sprintf("write %d", in.new)
		default:
			d = fmt.Sprintf("cas %d→%d", in.old, in.new)
			if out.outcome == regNoMatch {
				d += " (no match)"
			}
		}
		if out.outcome == regUnknown {
			d += " (info)"
		}
		return d
	},
	DescribeState: func(state any) string { return state.(regState).String() },
	DescribeOperationMetadata: func(info any) string {
		return fmt.Sprintf("op %d", info.(int))
	},
}

// regOps turns the register ops of h into porcupine operations, one list
// per key in key order. Metadata is the index of the op standing for the
// pair (its completion, or its invocation). A Fail is dropped unless it is
// a cas that found no match; an Info (or an op still in flight) may have
// taken effect at any time after its invocation, so it never returns; a
// read that did not complete says nothing and is dropped.
func regOps(h history.History) (keys []int64, ops map[int64][]porcupine.Operation, pairs map[int]history.Pair, counts Counts) {
	ops = map[int64][]porcupine.Operation{}
	pairs = map[int]history.Pair{}
	clients := map[int64]map[int]int{} // key → process → dense id
	for _, p := range h.Pairs() {
		inv := p.Invoke
		if inv.F != history.FRead && inv.F != history.FWrite && inv.F != history.FCAS {
			continue
		}
		counts.add(p)
		in := regInput{f: inv.F}
		if inv.F != history.FRead {
			if inv.Value == nil || (inv.F == history.FCAS && inv.Old == nil) {
				continue // malformed: nothing to check it against
			}
			in.new = *inv.Value
			if inv.Old != nil {
				in.old = *inv.Old
			}
		}
		op := porcupine.Operation{Input: in, Call: int64(inv.Index), Return: math.MaxInt64}
		switch p.Outcome() {
		case history.OK:
			op.Return = int64(p.Completion.Index)
			if inv.F == history.FRead && p.Completion.Value != nil {
				op.Output = regOutput{read: regState{present: true, v: *p.Completion.Value}}
			} else {
				op.Output = regOutput{}
			}
		case history.Fail:
			if inv.F != history.FCAS || p.Completion.Error != history.NoMatch {
				continue
			}
			op.Return = int64(p.Completion.Index)
			op.Output = regOutput{outcome: regNoMatch}
		default:
			if inv.F == history.FRead {
				continue
			}
			op.Output = regOutput{outcome: regUnknown}
		}
		if clients[inv.Key] == nil {
			clients[inv.Key] = map[int]int{}
		}
		c, ok := clients[inv.Key][inv.Process]
		if !ok {
			c = len(clients[inv.Key])
			clients[inv.Key][inv.Process] = c
		}
		op.ClientId = c
		idx := completion(p).Index
		op.Metadata = idx
		pairs[idx] = p
		ops[inv.Key] = append(ops[inv.Key], op)
	}
	for k := range ops {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys, ops, pairs, counts
}
