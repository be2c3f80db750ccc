package checker

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/anishathalye/porcupine"

	"github.com/shardingsystem/shard/tools/jepsen/history"
)

// Visualize writes porcupine's visualization of key's ops (an HTML page:
// each process's ops on a timeline, with the longest linearizations found)
// to w, whether or not the key is linearizable.
func (c Register) Visualize(h history.History, key int64, w io.Writer) error {
	_, ops, _, _ := regOps(h)
	if len(ops[key]) == 0 {
		return fmt.Errorf("checker: no register ops on key %d", key)
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = defaultRegisterTimeout
	}
	_, info := porcupine.CheckOperationsVerbose(registerModel, ops[key], timeout)
	return porcupine.Visualize(registerModel, info, w)
}

// WriteVisualizations checks h's keys again and writes, for each that is
// not linearizable, its visualization to dir/register-key-<key>.html. It
// returns the files written. This is the package's only file I/O.
func (c Register) WriteVisualizations(h history.History, dir string) ([]string, error) {
	keys, ops, _, _ := regOps(h)
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = defaultRegisterTimeout
	}
	var paths []string
	for _, k := range keys {
		res, info := porcupine.CheckOperationsVerbose(registerModel, ops[k], timeout)
		if res != porcupine.Illegal {
			continue
		}
		path := filepath.Join(dir, fmt.Sprintf("register-key-%d.html", k))
		if err := writeVisualization(path, info); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

func writeVisualization(path string, info porcupine.LinearizationInfo) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := porcupine.Visualize(registerModel, info, f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
