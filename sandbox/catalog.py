"""The marketplace's reference data: reasons (RE01), carriers (SH21) and the products on sale."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

REFUND = "REFUND"
CANCELATION = "CANCELATION"

# (code, type, label): La Redoute's back office labels its reasons in French.
REASONS: tuple[tuple[str, str, str], ...] = (
    ("OUT_OF_STOCK", CANCELATION, "Produit en rupture de stock"),
    ("CUSTOMER_REQUEST", CANCELATION, "Annulation à la demande du client"),
    ("PRICE_ERROR", CANCELATION, "Erreur de prix sur l'offre"),
    ("UNABLE_TO_SHIP", CANCELATION, "Impossible d'expédier la commande"),
    ("SHOP_CANCELED", CANCELATION, "Commande annulée par le vendeur"),
    ("PRODUCT_RETURNED", REFUND, "Produit retourné par le client"),
    ("DAMAGED_PRODUCT", REFUND, "Produit endommagé à la livraison"),
    ("MISSING_ITEM", REFUND, "Article manquant dans le colis"),
    ("NOT_DELIVERED", REFUND, "Colis non livré"),
    ("WRONG_ITEM", REFUND, "Article non conforme à la commande"),
    ("GOODWILL", REFUND, "Geste commercial"),
)

# OR29 has no body: the cancelations it writes carry this reason.
WHOLE_ORDER_CANCEL_REASON = "SHOP_CANCELED"


def reason_codes(kind: str) -> set[str]:
    return {code for code, reason_type, _ in REASONS if reason_type == kind}


# (code, label, tracking url template); {trackingId} is Mirakl's placeholder.
CARRIERS: tuple[tuple[str, str, str], ...] = (
    ("CHRONOPOST", "Chronopost",
     "https://www.chronopost.fr/tracking-no-cms/suivi-page?listeNumerosLT={trackingId}"),
    ("COLIS_PRIVE", "Colis Privé",
     "https://www.colisprive.com/moncolis/pages/detailColis.aspx?numColis={trackingId}"),
    ("COLISSIMO", "Colissimo", "https://www.laposte.fr/outils/suivre-vos-envois?code={trackingId}"),
    ("DHL", "DHL", "https://www.dhl.com/fr-fr/home/tracking.html?tracking-id={trackingId}"),
    ("DPD", "DPD", "https://trace.dpd.fr/fr/trace/{trackingId}"),
    ("GLS", "GLS", "https://gls-group.com/FR/fr/suivi-colis?match={trackingId}"),
    ("MONDIAL_RELAY", "Mondial Relay",
     "https://www.mondialrelay.fr/suivi-de-colis/?NumeroExpedition={trackingId}"),
    ("UPS", "UPS", "https://www.ups.com/track?loc=fr_FR&tracknum={trackingId}"),
)

CARRIERS_BY_CODE = {code: (label, template) for code, label, template in CARRIERS}

# Refusal reasons La Redoute gives for a refund it will not pay (extension of the spec).
REFUND_REFUSAL_REASONS = (
    "EXPIRED_CARD",
    "STOLEN_CARD",
    "CARD_OPPOSITION",
    "AMOUNT_ABOVE_ORDER_AMOUNT",
    "FRAUD",
)

# Why the marketplace cancels a whole order, with the label it shows.
ORDER_CANCEL_REASONS = {
    "ACCEPTANCE_DEADLINE_EXCEEDED": "Délai d'acceptation dépassé",
    "PAYMENT_REFUSED": "Paiement refusé",
    "SHOP_CANCELED": "Commande annulée par le vendeur",
}


@dataclass(frozen=True)
class Product:
    """A product line of the catalogue; sizes or colours make its variants."""

    sku_stem: str
    title: str
    category_code: str
    category_label: str
    price: Decimal
    variants: tuple[str, ...]


PRODUCTS: tuple[Product, ...] = (
    Product("TUNIC-LIN", "Tunique en lin", "femme-hauts", "Hauts femme", Decimal("29.99"),
            ("36", "38", "40", "42")),
    Product("ROBE-PORTEF", "Robe portefeuille imprimée fleurs", "femme-robes", "Robes",
            Decimal("49.99"), ("36", "38", "40", "42", "44")),
    Product("JEAN-SLIM", "Jean slim taille haute", "femme-jeans", "Jeans femme", Decimal("39.99"),
            ("34", "36", "38", "40")),
    Product("PULL-MERINOS", "Pull col rond en laine mérinos", "homme-pulls", "Pulls homme",
            Decimal("59.90"), ("S", "M", "L", "XL")),
    Product("CHEMISE-OXF", "Chemise Oxford coupe droite", "homme-chemises", "Chemises homme",
            Decimal("34.99"), ("S", "M", "L", "XL")),
    Product("TRENCH-COT", "Trench mi-long en coton", "femme-manteaux", "Manteaux femme",
            Decimal("119.00"), ("36", "38", "40")),
    Product("BASK-CUIR", "Baskets basses en cuir", "chaussures", "Chaussures", Decimal("74.95"),
            ("37", "38", "39", "40", "41", "42")),
    Product("FOULARD-SOIE", "Foulard en soie", "accessoires", "Accessoires", Decimal("15.00"),
            ("BLEU", "ROUGE", "VERT")),
    Product("SAC-CABAS", "Sac cabas en toile", "accessoires", "Accessoires", Decimal("27.50"),
            ("NATUREL", "NOIR")),
    Product("PYJAMA-ENF", "Pyjama en coton bio enfant", "enfant-nuit", "Nuit enfant",
            Decimal("19.99"), ("4A", "6A", "8A", "10A")),
    Product("HOUSSE-LIN", "Housse de couette en lin lavé", "linge-lit", "Linge de lit",
            Decimal("89.00"), ("140X200", "220X240", "260X240")),
    Product("COUSSIN-VELO", "Coussin en velours côtelé", "deco-textile", "Décoration textile",
            Decimal("22.90"), ("OCRE", "VERT", "ROSE")),
    Product("RIDEAU-VOIL", "Voilage en étamine", "rideaux", "Rideaux et voilages", Decimal("24.99"),
            ("140X240", "140X260")),
    Product("TAPIS-JUTE", "Tapis rond en jute tressée", "tapis", "Tapis", Decimal("69.00"),
            ("D120", "D160")),
    Product("LAMPE-CERAM", "Lampe à poser en céramique", "luminaires", "Luminaires",
            Decimal("45.00"), ("BLANC", "TERRACOTTA")),
    Product("SERV-GAUF", "Lot de 2 serviettes nid d'abeille", "linge-bain", "Linge de bain",
            Decimal("18.99"), ("BLANC", "GRIS", "SAUGE")),
    Product("CHAISE-CANN", "Chaise en cannage et hêtre", "mobilier", "Mobilier", Decimal("129.00"),
            ("NATUREL", "NOIR")),
    Product("MIROIR-ROT", "Miroir rond en rotin", "deco-murale", "Décoration murale",
            Decimal("55.00"), ("D50", "D70")),
)


def ean13(first_twelve: str) -> str:
    """Append the GS1 check digit: weights 1,3,1,3... from the left over twelve digits."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first_twelve))
    return first_twelve + str((10 - total % 10) % 10)
