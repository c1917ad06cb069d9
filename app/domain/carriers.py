"""Tracking URLs of the carriers we know, built from the tracking number."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

_TEMPLATES = {
    "colissimo": "https://www.laposte.fr/outils/suivre-vos-envois?code={n}",
    "laposte": "https://www.laposte.fr/outils/suivre-vos-envois?code={n}",
    "chronopost": "https://www.chronopost.fr/tracking-no-cms/suivi-page?listeNumerosLT={n}",
    "dhl": "https://www.dhl.com/fr-fr/home/tracking.html?tracking-id={n}",
    "ups": "https://www.ups.com/track?loc=fr_FR&tracknum={n}",
    "gls": "https://gls-group.com/FR/fr/suivi-colis?match={n}",
    "dpd": "https://trace.dpd.fr/fr/trace/{n}",
    "mondialrelay": "https://www.mondialrelay.fr/suivi-de-colis/?NumeroExpedition={n}",
    "colisprive": "https://www.colisprive.com/moncolis/pages/detailColis.aspx?numColis={n}",
}


def carrier_key(carrier: str) -> str:
    """'Colis Privé', 'colis-prive' and 'COLISPRIVE' all name the same carrier."""
    decomposed = unicodedata.normalize("NFKD", carrier)
    return "".join(c for c in decomposed if c.isalnum()).lower()


def known_carriers() -> list[str]:
    return sorted(_TEMPLATES)


def tracking_url_for(carrier: str, tracking_number: str) -> str | None:
    """The carrier's tracking page for this parcel, or None for a carrier we do not know."""
    template = _TEMPLATES.get(carrier_key(carrier))
    if template is None:
        return None
    return template.format(n=quote(tracking_number, safe=""))
