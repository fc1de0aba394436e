"""Running the navion CLI in-process from tests."""
from navion.cli import main


def run(capsys, *argv):
    """(exit code, stdout, stderr) of ``navion ARGV`` (arguments converted to str)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def expect_one_line_error(capsys, argv, *needles):
    """The command exits with 2 and prints exactly one ``navion: error:`` line holding every needle."""
    code, _, err = run(capsys, *argv)
    assert code == 2 and "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("navion: error:")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
