package vault

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// RunRotate is `tenant-service keys rotate`: it runs v.Rotate with a progress
// bar on out and ends with a one-line summary. It prints key ids and counts
// only. A cancelled run (Ctrl-C) says how to resume: run it again.
func RunRotate(ctx context.Context, v *Vault, out io.Writer) (RotateResult, error) {
	fmt.Fprintf(out, "rewrapping data keys to key-encryption key %q (keys: %v)\n",
		v.ring.ActiveID(), v.ring.IDs())
	var bar *progressbar.ProgressBar
	res, err := v.Rotate(ctx, func(done, total int64) {
		if total == 0 {
			return
		}
		if bar == nil {
			bar = progressbar.NewOptions64(total,
				progressbar.OptionSetWriter(out),
				progressbar.OptionSetDescription("rewrapping"),
				progressbar.OptionShowCount(),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionFullWidth())
		}
		if total != bar.GetMax64() {
			bar.ChangeMax64(total)
		}
		_ = bar.Set64(done)
	})
	if bar != nil {
		if err == nil {
			_ = bar.Finish()
		} else {
			_ = bar.Exit()
		}
		fmt.Fprintln(out)
	}
	switch {
	case err != nil && ctx.Err() != nil:
		fmt.Fprintf(out, "interrupted: %d of %d data keys rewrapped; run the command again to continue\n",
			res.Rewrapped, res.Total)
	case res.Total == 0:
		fmt.Fprintf(out, "nothing to do: every live data key is under %q\n", res.ActiveKey)
	default:
		fmt.Fprintf(out, "rewrapped %d of %d data keys to %q; %d failed\n",
			res.Rewrapped, res.Total, res.ActiveKey, res.Failed)
	}
	return res, err
}
