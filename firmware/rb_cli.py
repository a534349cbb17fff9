"""Analyze a trace inside MicroPython: `micropython rb_cli.py TRACE.csv [thresholds.json]`.

Prints the analysis JSON exactly as the host's CPython path does.  Trace
errors go to stderr as `TRACE_ERROR <line> <message>` with exit status 2.
Not part of the board image: it is how the host runs the same core under
the MicroPython unix port (`repbelt analyze --runtime micropython`).
"""
import sys
import rb_analysis
import rb_trace
import rb_tunables


def main(argv):
    if len(argv) < 2:
        sys.stderr.write("usage: rb_cli.py TRACE.csv [thresholds.json]\n")
        return 2
    tun = rb_tunables.load(argv[2]) if len(argv) > 2 else None
    try:
        f = open(argv[1])
    except OSError:
        sys.stderr.write("TRACE_ERROR 0 cannot open file\n")
        return 2
    try:
        an, reader, eng = rb_analysis.analyze_lines(f, tun)
    except rb_trace.TraceError as e:
        sys.stderr.write("TRACE_ERROR %d %s\n" % (e.line, e.message))
        return 2
    finally:
        f.close()
    sys.stdout.write(an.json(rb_analysis.meta_of(reader)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
