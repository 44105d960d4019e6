"""French reply texts.

Only GSM-7 letters: é è à ù are in the GSM alphabet, but ç ê â î ô û are not and would
switch the whole SMS to UCS-2 (70 characters instead of 160), so they are avoided.
"""

TEXTS = {
    "help": (
        "PRIX MAIS NAKURU: dernier prix. STD MAIS: normes des acheteurs. INSCRIRE NAKURU: "
        "votre marché. LANGUE EN/SW: langue. ARRET: plus de SMS. START: reprendre."
    ),
    "stopped": "Vous ne recevrez plus de messages. Envoyez START pour les recevoir de nouveau.",
    "started": "Bon retour. Vous recevrez de nouveau nos messages. Envoyez AIDE pour les commandes.",
    "already_started": "Vous recevez déjà nos messages. Envoyez AIDE pour les commandes.",
    "unknown": "Désolé, nous n'avons pas compris. Envoyez AIDE pour la liste des commandes.",
    "stop_alone": "Pour ne plus recevoir de messages, envoyez le seul mot ARRET.",
    "rate_limited": (
        "Vous avez envoyé beaucoup de messages. Nous répondrons de nouveau dans {minutes} "
        "minutes environ."
    ),
    "error": "Désolé, une erreur est survenue chez nous. Merci de réessayer plus tard.",
    "thousands_sep": " ",
    "months": "janv. févr. mars avr. mai juin juil. aout sept. oct. nov. déc.",
    "trend_up": "hausse {amount}",
    "trend_down": "baisse {amount}",
    "trend_same": "stable",
    "type_retail": "détail",
    "type_wholesale": "gros",
    "price_keyword": "PRIX",
    "price": "{commodity}, {market}, {date}: {quotes}.",
    "stale": "Prix ancien: il y a {age}.",
    "age_months": "{n} mois",
    "age_years": "{n} ans",
    "best": (
        "{commodity} meilleurs prix {kind} récents, {currency}/{unit}: {markets} ({date}). "
        "Envoyez {keyword} {name} et un marché."
    ),
    "no_prices": "Pas encore de prix récents pour {commodity}.",
    "no_data": "Pas encore de prix {commodity} pour {market}.",
    "no_data_near": "Pas encore de prix {commodity} pour {market}. Marchés proches: {markets}.",
    "which": "Lequel: {options}? Renvoyez {keyword} avec l'un d'eux.",
    "prices_none": "Aucun prix de marché n'est encore chargé. Merci de réessayer plus tard.",
    "price_usage": "Envoyez PRIX et un produit, et un marché si vous voulez. Ex: PRIX MAIS NAKURU",
    "unknown_commodity": "Pas de prix pour ce produit. Essayez: {suggestions}.",
    "unknown_market": "Marché inconnu. Envoyez {keyword} {name} pour les meilleurs marchés.",
    "reg_keyword": "INSCRIRE",
    "reg_usage": "Envoyez INSCRIRE et votre marché, ex. INSCRIRE NAKURU. PRIX répondra pour lui.",
    "reg_current": "Votre marché est {market}. Envoyez INSCRIRE et un autre marché pour changer.",
    "reg_unknown": "Marché inconnu. Envoyez INSCRIRE et le nom du marché, ex. INSCRIRE NAKURU.",
    "reg_done": "Votre marché est maintenant {market}. Envoyez PRIX MAIS pour son prix du mais.",
    "lang_usage": "Envoyez LANGUE FR pour le francais, LANGUE EN pour l'anglais, LANGUE SW pour le swahili.",
    "lang_done": "Vous recevrez maintenant les réponses en francais.",
    "std_source": "Source: {source}",
    "std_list": "Normes par SMS pour: {products}. Envoyez NORME et un produit, ex. NORME {example}",
    "std_unknown": "Pas de norme pour {query}. Nous avons: {products}. Ex: NORME {example}",
    "std_choose": "Vous voulez dire: {products}? Envoyez par ex. NORME {example}",
    "std_none": "Aucune norme de produit n'est encore chargée. Merci de réessayer plus tard.",
}
