"""Every message in the code and templates is translated in every language we offer.

Runs what a translator runs (`pybabel extract`, `update`, `compile`) on copies of the catalogs,
so a message added without its translations, or a catalog nobody updated, fails here.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from pledges.i18n import LANGUAGES

ROOT = Path(__file__).resolve().parents[2]

#: `%(name)s`, `%(num)d` and the like: a translation that loses or invents one breaks the page.
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _pybabel(*args: str, cwd: Path = ROOT) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def catalogs(tmp_path_factory) -> Path:
    """Copies of translations/ updated from a fresh extraction of the code and templates."""
    directory = tmp_path_factory.mktemp("translations")
    for locale in LANGUAGES:
        source = ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po"
        target = directory / locale / "LC_MESSAGES"
        target.mkdir(parents=True)
        shutil.copy(source, target / "messages.po")
    template = directory / "messages.pot"
    _pybabel("extract", "-F", "babel.cfg", "-k", "_l", "-o", str(template), ".")
    for locale in LANGUAGES:
        _pybabel(
            "update", "--no-fuzzy-matching", "-l", locale, "-i", str(template), "-d", str(directory)
        )
    return directory


def _read(path: Path, locale: str):
    with path.open("rb") as file:
        return read_po(file, locale=locale)


def test_extraction_finds_code_templates_and_emails(catalogs):
    with (catalogs / "messages.pot").open("rb") as file:
        template = read_po(file)
    ids = {message.id for message in template if message.id}
    assert len(ids) > 500
    for known in (
        "Check your email",  # templates/auth/
        "Where should it go?",  # pledges/forms/member.py, lazy_gettext as _l
        "Your sign-in link for %(fund)s",  # pledges/services/emails.py
        "Medication for a journalist in exile",  # the demo data's fund texts
    ):
        assert known in ids, known
    locations = {path for message in template for path, _line in message.locations}
    assert any(path.startswith("templates/email/") for path in locations)


@pytest.mark.parametrize("locale", LANGUAGES)
def test_every_message_is_translated(catalogs, locale):
    catalog = _read(catalogs / locale / "LC_MESSAGES" / "messages.po", locale)
    missing, fuzzy, broken = [], [], []
    for message in catalog:
        if not message.id:
            continue
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(forms) or len(forms) != (catalog.num_plurals if message.pluralizable else 1):
            missing.append(message.id)
        elif message.fuzzy:
            fuzzy.append(message.id)
        elif not _same_placeholders(message.id, forms):
            broken.append(message.id)
    assert not missing, f"{locale}: {len(missing)} untranslated, e.g. {missing[:5]}"
    assert not fuzzy, f"{locale}: {len(fuzzy)} fuzzy (check and confirm them), e.g. {fuzzy[:5]}"
    assert not broken, f"{locale}: placeholders differ from the original in {broken[:5]}"


def _same_placeholders(original: str | tuple, forms: tuple[str, ...]) -> bool:
    """Each form uses only the original's placeholders, and together they use all of them.

    A plural form may leave out the number (Ukrainian's "one" form is also 21, 31…, so it
    keeps it; but a language may say "a case" for exactly one), never a name.
    """
    originals = original if isinstance(original, tuple) else (original,)
    expected = {name for text in originals for name in PLACEHOLDER.findall(text)}
    used = [set(PLACEHOLDER.findall(form)) for form in forms]
    return all(names <= expected for names in used) and set().union(*used) == expected


def test_the_catalogs_compile_and_load(catalogs):
    output = _pybabel("compile", "--statistics", "-d", str(catalogs))
    for locale in LANGUAGES:
        assert f"{locale}/LC_MESSAGES/messages.po" in output
        with (catalogs / locale / "LC_MESSAGES" / "messages.mo").open("rb") as file:
            compiled = read_mo(file)
        assert len(compiled) > 500


def test_the_committed_catalogs_are_current(catalogs):
    """Nobody needs to run `bin/translations update` before translating: the catalogs in git
    already hold every message, and none that is gone."""
    for locale in LANGUAGES:
        committed = _read(ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po", locale)
        updated = _read(catalogs / locale / "LC_MESSAGES" / "messages.po", locale)
        assert {m.id for m in committed if m.id} == {m.id for m in updated if m.id}, locale
