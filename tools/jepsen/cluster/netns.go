package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// nsNet is the network of a run in network namespaces. Slot S, node i:
//
//	namespace  shard-jepsen-S-ni, holding eth0 at 10.199.S.i/24 and lo
//	veth       sjvSni in the root namespace, its peer is the eth0 above
//	bridge     sjbS in the root namespace, at 10.199.S.254/24, every
//	           sjvSni its port; the harness reaches the nodes through it
//	rule       iptables -I FORWARD -i sjbS -o sjbS -j ACCEPT, commented
//	           shard-jepsen-S, in the root namespace: with br_netfilter
//	           loaded, bridged packets pass the root FORWARD chain, whose
//	           policy may be DROP (a Docker host's is)
//
// Partitions are iptables rules in the nodes' own namespaces (INPUT,
// -s PEER -j DROP); they vanish with the namespaces.
type nsNet struct {
	slot  int
	nodes int
}

const nsPrefix = "shard-jepsen-"

func (n *nsNet) ns(i int) string       { return fmt.Sprintf("%s%d-n%d", nsPrefix, n.slot, i) }
func (n *nsNet) bridge() string        { return fmt.Sprintf("sjb%d", n.slot) }
func (n *nsNet) veth(i int) string     { return fmt.Sprintf("sjv%dn%d", n.slot, i) }
func (n *nsNet) peer(i int) string     { return fmt.Sprintf("sjp%dn%d", n.slot, i) }
func (n *nsNet) ip(i int) string       { return fmt.Sprintf("10.199.%d.%d", n.slot, i) }
func (n *nsNet) hostIP() string        { return fmt.Sprintf("10.199.%d.254", n.slot) }
func (n *nsNet) comment() string       { return fmt.Sprintf("%s%d", nsPrefix, n.slot) }
func (n *nsNet) mode() Mode            { return Namespaces }
func (n *nsNet) sourceIP(int) string   { return "" }
func (n *nsNet) listenAddr(int) string { return "" }

// addrs are node i's rpc, SQL and HTTP addresses: the default ports on its
// own address.
func (n *nsNet) addrs(i int) (rpc, sql, http string, err error) {
	return n.ip(i) + ":7400", n.ip(i) + ":5433", n.ip(i) + ":8080", nil
}

// namespacesAvailable says why namespaces cannot be used ("" if they can).
func namespacesAvailable() string {
	if os.Geteuid() != 0 {
		return "not root"
	}
	for _, tool := range []string{"ip", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " is missing"
		}
	}
	return ""
}

// subnetFree says whether no interface has an address in 10.199.slot.0/24
// (another program may use it).
func subnetFree(prefix string) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return true
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && strings.HasPrefix(ipn.IP.String(), prefix) {
			return false
		}
	}
	return true
}

// run runs a command and returns its error with its output.
func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func output(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return string(out), nil
}

// setup makes the bridge, the namespaces and the veth pairs.
func (n *nsNet) setup() error {
	br := n.bridge()
	steps := [][]string{
		{"ip", "link", "add", br, "type", "bridge"},
		{"ip", "addr", "add", n.hostIP() + "/24", "dev", br},
		{"ip", "link", "set", br, "up"},
	}
	for i := 1; i <= n.nodes; i++ {
		ns := n.ns(i)
		steps = append(steps,
			[]string{"ip", "netns", "add", ns},
			[]string{"ip", "link", "add", n.veth(i), "type", "veth", "peer", "name", n.peer(i)},
			[]string{"ip", "link", "set", n.peer(i), "netns", ns},
			[]string{"ip", "-n", ns, "link", "set", n.peer(i), "name", "eth0"},
			[]string{"ip", "-n", ns, "addr", "add", n.ip(i) + "/24", "dev", "eth0"},
			[]string{"ip", "-n", ns, "link", "set", "eth0", "up"},
			[]string{"ip", "-n", ns, "link", "set", "lo", "up"},
			[]string{"ip", "link", "set", n.veth(i), "master", br, "up"},
		)
	}
	for _, s := range steps {
		if err := run(s[0], s[1:]...); err != nil {
			return err
		}
	}
	if err := run("iptables", "-w", "-I", "FORWARD", "-i", br, "-o", br, "-j", "ACCEPT", "-m", "comment", "--comment", n.comment()); err != nil {
		return err
	}
	return nil
}

// command runs bin in node i's namespace: `ip netns exec` sets the
// namespace and execs bin, so the process is bin itself (signals reach it).
func (n *nsNet) command(i int, bin string, args []string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.ns(i), bin}, args...)...)
}

// drop makes node to drop every packet from node from.
func (n *nsNet) drop(to, from int) error {
	return run("ip", "netns", "exec", n.ns(to), "iptables", "-w", "-A", "INPUT", "-s", n.ip(from), "-j", "DROP")
}

// heal removes every drop.
func (n *nsNet) heal() error {
	var errs []error
	for i := 1; i <= n.nodes; i++ {
		errs = append(errs, run("ip", "netns", "exec", n.ns(i), "iptables", "-w", "-F", "INPUT"))
	}
	return errors.Join(errs...)
}

// dialer dials from inside node i's namespace: the socket is made by a
// thread that entered the namespace (and ends with the goroutine, never
// returning to the pool in a foreign namespace).
func (n *nsNet) dialer(i int) func(ctx context.Context, addr string) (net.Conn, error) {
	ns := n.ns(i)
	return func(ctx context.Context, addr string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
			f, err := os.Open("/run/netns/" + ns)
			if err != nil {
				ch <- result{nil, err}
				return
			}
			defer f.Close()
			if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
				ch <- result{nil, fmt.Errorf("setns %s: %w", ns, err)}
				return
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", addr)
			ch <- result{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
}

// close removes everything the run made: its slot's leftovers, which now
// are all of it.
func (n *nsNet) close() error { return cleanNamespaceSlot(n.slot) }

// namespaceSlots lists the slots that have network objects: namespaces,
// links, root FORWARD rules.
func namespaceSlots() map[int]bool {
	slots := map[int]bool{}
	if ents, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range ents {
			if rest, ok := strings.CutPrefix(e.Name(), nsPrefix); ok {
				if s, _, ok := strings.Cut(rest, "-"); ok {
					if v, err := strconv.Atoi(s); err == nil {
						slots[v] = true
					}
				}
			}
		}
	}
	if ifs, err := net.Interfaces(); err == nil {
		for _, ifc := range ifs {
			if v, ok := linkSlot(ifc.Name); ok {
				slots[v] = true
			}
		}
	}
	for _, r := range forwardRules() {
		slots[r.slot] = true
	}
	return slots
}

// linkSlot parses sjbS, sjvSnI and sjpSnI.
func linkSlot(name string) (int, bool) {
	for _, p := range []string{"sjb", "sjv", "sjp"} {
		if rest, ok := strings.CutPrefix(name, p); ok {
			s, _, _ := strings.Cut(rest, "n")
			v, err := strconv.Atoi(s)
			return v, err == nil
		}
	}
	return 0, false
}

type forwardRule struct {
	slot int
	args []string // as printed by iptables -S, from -A on
}

// forwardRules are the root FORWARD rules commented shard-jepsen-S.
func forwardRules() []forwardRule {
	if _, err := exec.LookPath("iptables"); err != nil || os.Geteuid() != 0 {
		return nil
	}
	out, err := output("iptables", "-w", "-S", "FORWARD")
	if err != nil {
		return nil
	}
	var rules []forwardRule
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		for k := 0; k+1 < len(f); k++ {
			if f[k] != "--comment" {
				continue
			}
			c := strings.Trim(f[k+1], `"`)
			if rest, ok := strings.CutPrefix(c, nsPrefix); ok {
				if v, err := strconv.Atoi(rest); err == nil && len(f) > 0 && f[0] == "-A" {
					rules = append(rules, forwardRule{slot: v, args: f})
				}
			}
		}
	}
	return rules
}

// cleanNamespaceSlot removes every network object of slot s and kills any
// process left in its namespaces. The caller holds the slot.
func cleanNamespaceSlot(s int) error {
	n := &nsNet{slot: s}
	var errs []error
	// A namespace name whose mount is gone or points at our own
	// namespace (a creation cut short) makes `ip netns pids` list the
	// processes of ours: this test binary among them. Never kill those.
	self, _ := os.Readlink("/proc/self/ns/net")
	if ents, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), fmt.Sprintf("%s%d-", nsPrefix, s)) {
				continue
			}
			if out, err := output("ip", "netns", "pids", e.Name()); err == nil {
				for _, p := range strings.Fields(out) {
					pid, err := strconv.Atoi(p)
					if err != nil || pid == os.Getpid() {
						continue
					}
					if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid)); err != nil || ns == self {
						continue
					}
					_ = unix.Kill(pid, unix.SIGKILL)
				}
			}
			errs = append(errs, run("ip", "netns", "del", e.Name()))
		}
	}
	if ifs, err := net.Interfaces(); err == nil {
		// Veths first (deleting one end deletes its peer), the bridge last.
		var links []string
		for _, ifc := range ifs {
			if v, ok := linkSlot(ifc.Name); ok && v == s && ifc.Name != n.bridge() {
				links = append(links, ifc.Name)
			}
		}
		links = append(links, n.bridge())
		for _, l := range links {
			if _, err := net.InterfaceByName(l); err == nil {
				errs = append(errs, ignoreGone(run("ip", "link", "del", l)))
			}
		}
	}
	for _, r := range forwardRules() {
		if r.slot == s {
			errs = append(errs, run("iptables", append([]string{"-w", "-D"}, r.args[1:]...)...))
		}
	}
	return errors.Join(errs...)
}

// ignoreGone drops the error of deleting a link that is already gone (its
// peer's deletion took it).
func ignoreGone(err error) error {
	// The device may go between the lookup and the delete: deleting a
	// namespace removes the root end of its veths asynchronously ("No such
	// device" then).
	if err != nil && (strings.Contains(err.Error(), "Cannot find device") || strings.Contains(err.Error(), "No such device")) {
		return nil
	}
	return err
}
