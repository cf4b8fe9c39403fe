"""What the simulated shop sells, where, and through whom: stores, marketplaces, products, carriers, buyers.

These are facts of the shop and its marketplaces (currencies, the time zone a
channel reports in, what a product weighs), not thresholds of the playbook:
those come from the policy, in `timelines`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta, timezone
from decimal import Decimal

CN_TZ = timezone(timedelta(hours=8), "CST")
US_EAST = timezone(timedelta(hours=-5), "EST")  # Shopify shops here report in Eastern time; EST covers the sales

CN_MARKETS: tuple[str, ...] = ("tmall", "taobao", "1688")
CROSS_BORDER: tuple[str, ...] = ("aliexpress", "shopify")
ALL_MARKETS: tuple[str, ...] = CN_MARKETS + CROSS_BORDER
RETAIL_MARKETS: tuple[str, ...] = ("tmall", "taobao", "aliexpress", "shopify")
# Where a buyer left waiting disputes an unshipped order and the store is fined for it.
PENALTY_MARKETS: tuple[str, ...] = ("tmall", "taobao")

CURRENCY = {"tmall": "CNY", "taobao": "CNY", "1688": "CNY", "aliexpress": "USD", "shopify": "USD"}
EVENT_TZ = {"shopify": US_EAST}  # everything else reports in China time
CNY_PER_USD = Decimal("7.10")
# Tmall's "48 h shipping" badge: a ship-by the order itself carries, which the policy keeps when it is earlier.
TMALL_SHIPPING_PROMISE = timedelta(hours=48)

ABROAD: tuple[str, ...] = ("US", "DE", "ES", "FR", "BR")
CARRIERS_CN: tuple[str, ...] = ("sf-express", "zto", "yto", "jd-logistics")
CARRIERS_INTL: tuple[str, ...] = ("cainiao", "yanwen", "4px", "yunexpress")


@dataclass(frozen=True, slots=True)
class Store:
    """A seller. Real dropshipping sellers list on several channels, so a store has one or more marketplaces;
    the first two stores together cover every marketplace the playbook distinguishes."""

    store_id: str
    marketplaces: tuple[str, ...]
    origin_country: str = "CN"


STORES: tuple[Store, ...] = (
    Store("store-hz-01", ("tmall", "taobao", "1688")),
    Store("store-sz-02", ("aliexpress", "shopify")),
    Store("store-yw-03", ("1688", "taobao")),
    Store("store-gz-04", ("shopify", "aliexpress")),
    Store("store-nb-05", ("tmall",)),
)


def stores_for(count: int) -> tuple[Store, ...]:
    """The first `count` stores; beyond the named five, numbered copies of their channel mixes."""
    if count < 1:
        raise ValueError("stores must be at least 1")
    out = list(STORES[:count])
    for i in range(len(STORES), count):
        out.append(Store(f"store-cn-{i + 1:02d}", STORES[i % len(STORES)].marketplaces))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    price_cny: Decimal
    weight_kg: float
    dims: tuple[float, float, float]


RETAIL: tuple[Product, ...] = (
    Product("SKU-KETTLE-1L", Decimal("89.00"), 1.2, (22, 18, 25)),
    Product("SKU-EARBUDS-BT5", Decimal("129.00"), 0.15, (10, 8, 4)),
    Product("SKU-PHONE-CASE", Decimal("29.90"), 0.08, (18, 10, 2)),
    Product("SKU-DESK-LAMP", Decimal("159.00"), 1.6, (45, 20, 15)),
    Product("SKU-YOGA-MAT", Decimal("79.00"), 1.1, (62, 15, 15)),
    Product("SKU-BACKPACK-25L", Decimal("199.00"), 0.9, (48, 32, 12)),
    Product("SKU-SNEAKER-42", Decimal("259.00"), 1.0, (34, 22, 13)),
    Product("SKU-RICE-COOKER", Decimal("299.00"), 3.2, (35, 30, 28)),
)
WHOLESALE: tuple[Product, ...] = (
    Product("SKU-PHONE-CASE", Decimal("6.50"), 0.08, (18, 10, 2)),
    Product("SKU-USB-CABLE-1M", Decimal("3.20"), 0.05, (12, 8, 2)),
    Product("SKU-SOCKS-5PK", Decimal("9.80"), 0.25, (20, 15, 4)),
)
# Over the default policy's carrier limits (weight, longest side, length + girth); the tests hold them to it.
OVERSIZE: tuple[Product, ...] = (
    Product("SKU-SOFA-3SEAT", Decimal("2399.00"), 48.0, (210, 90, 80)),
    Product("SKU-TREADMILL-F1", Decimal("1899.00"), 62.0, (160, 75, 30)),
    Product("SKU-RUG-300", Decimal("459.00"), 9.0, (300, 30, 30)),
)
# Within the limits as packed, but a carrier may still refuse it (volumetric weight, irregular shape).
BULKY: tuple[Product, ...] = (
    Product("SKU-OFFICE-CHAIR", Decimal("699.00"), 19.0, (68, 52, 44)),
    Product("SKU-AIR-FRYER-XL", Decimal("499.00"), 8.5, (48, 44, 42)),
)

# Fake customer data, only ever on order.placed `buyer`, by destination: something for the privacy tests to find.
FAKE_BUYERS: dict[str, tuple[dict[str, str], ...]] = {
    "CN": (
        {
            "name": "Wang Xiaoming",
            "phone": "+86 138 0000 1234",
            "email": "xm.wang@example.com",
            "address": "88 Wensan Road, Xihu District, Hangzhou, Zhejiang 310012",
        },
        {
            "name": "Li Na",
            "phone": "+86 139 0000 5678",
            "email": "li.na@example.cn",
            "address": "12 Nanjing West Road, Jing'an District, Shanghai 200041",
        },
    ),
    "HK": (
        {
            "name": "Chan Tai Man",
            "phone": "+852 5555 0000",
            "email": "tm.chan@example.hk",
            "address": "18 Nathan Road, Tsim Sha Tsui, Kowloon, Hong Kong",
        },
    ),
    "US": (
        {
            "name": "Jane Doe",
            "phone": "+1 555 0100 200",
            "email": "jane.doe@example.org",
            "address": "742 Evergreen Terrace, Springfield, OR 97403, USA",
        },
    ),
    "DE": (
        {
            "name": "Max Mustermann",
            "phone": "+49 30 1234567",
            "email": "max@example.de",
            "address": "Musterstrasse 1, 10115 Berlin, Germany",
        },
    ),
    "ES": (
        {
            "name": "Lucia Garcia",
            "phone": "+34 600 000 000",
            "email": "lucia.g@example.es",
            "address": "Calle Mayor 5, 28013 Madrid, Spain",
        },
    ),
    "FR": (
        {
            "name": "Jean Dupont",
            "phone": "+33 6 00 00 00 00",
            "email": "jean.dupont@example.fr",
            "address": "10 Rue de Rivoli, 75004 Paris, France",
        },
    ),
    "BR": (
        {
            "name": "Joao Silva",
            "phone": "+55 11 90000 0000",
            "email": "joao.silva@example.com.br",
            "address": "Av. Paulista 1000, Sao Paulo SP 01310-100, Brazil",
        },
    ),
}
