"""Parallel EN/JA/ZH phrase tables for the synthetic corpus (bench/gen_corpus.py).

Every entry is a tuple ``(english, japanese, chinese)``: the three are translations of each
other, so a record rendered in the three languages carries the same topics, numbers, URLs and
code. Templates use ``str.format`` slots:

- ``{a}``, ``{b}``: topics (``TOPICS``); ``{A}``, ``{B}``: the same, capitalised (English only);
- ``{n}``, ``{pct}``, ``{year}``, ``{price}``, ``{x}``, ``{y}``, ``{z}``: numbers (same digits in
  every language);
- ``{url}``, ``{user}``, ``{e}`` (emoji), ``{q}`` (a proverb, ``PROVERBS``), ``{lib}``.

Japanese text is real Japanese (kanji, hiragana, katakana, ``、。「」``); Chinese text is
Simplified Chinese with Chinese punctuation and no kana.
"""

Tri = tuple[str, str, str]

TOPICS: list[Tri] = [
    ("machine learning", "機械学習", "机器学习"),
    ("artificial intelligence", "人工知能", "人工智能"),
    ("climate change", "気候変動", "气候变化"),
    ("renewable energy", "再生可能エネルギー", "可再生能源"),
    ("the internet", "インターネット", "互联网"),
    ("social media", "ソーシャルメディア", "社交媒体"),
    ("public transportation", "公共交通機関", "公共交通"),
    ("healthy eating", "健康的な食事", "健康饮食"),
    ("regular exercise", "定期的な運動", "定期锻炼"),
    ("time management", "時間管理", "时间管理"),
    ("online education", "オンライン教育", "在线教育"),
    ("data privacy", "データのプライバシー", "数据隐私"),
    ("cloud computing", "クラウドコンピューティング", "云计算"),
    ("the economy", "経済", "经济"),
    ("small businesses", "中小企業", "小企业"),
    ("customer service", "カスタマーサービス", "客户服务"),
    ("water pollution", "水質汚染", "水污染"),
    ("urban planning", "都市計画", "城市规划"),
    ("mental health", "メンタルヘルス", "心理健康"),
    ("the education system", "教育制度", "教育体系"),
    ("electric vehicles", "電気自動車", "电动汽车"),
    ("space exploration", "宇宙探査", "太空探索"),
    ("biodiversity", "生物多様性", "生物多样性"),
    ("remote work", "リモートワーク", "远程办公"),
    ("software development", "ソフトウェア開発", "软件开发"),
    ("cybersecurity", "サイバーセキュリティ", "网络安全"),
    ("the stock market", "株式市場", "股票市场"),
    ("traditional culture", "伝統文化", "传统文化"),
    ("tourism", "観光業", "旅游业"),
    ("agriculture", "農業", "农业"),
    ("smartphones", "スマートフォン", "智能手机"),
    ("video games", "ビデオゲーム", "电子游戏"),
    ("team communication", "チームのコミュニケーション", "团队沟通"),
    ("scientific research", "科学研究", "科学研究"),
    ("global trade", "国際貿易", "国际贸易"),
    ("sleep quality", "睡眠の質", "睡眠质量"),
    ("language learning", "語学学習", "语言学习"),
    ("recycling", "リサイクル", "回收利用"),
    ("the housing market", "住宅市場", "住房市场"),
    ("digital marketing", "デジタルマーケティング", "数字营销"),
    ("natural language processing", "自然言語処理", "自然语言处理"),
    ("the water cycle", "水の循環", "水循环"),
    ("photosynthesis", "光合成", "光合作用"),
    ("democracy", "民主主義", "民主制度"),
    ("personal finance", "個人の資産管理", "个人理财"),
    ("online shopping", "オンラインショッピング", "网上购物"),
    ("air quality", "大気の質", "空气质量"),
    ("public health", "公衆衛生", "公共卫生"),
    ("supply chains", "サプライチェーン", "供应链"),
    ("the food industry", "食品業界", "食品行业"),
]

SENTENCES: list[Tri] = [
    ("{A} is an important part of {b}.", "{a}は{b}の重要な一部です。", "{a}是{b}的重要组成部分。"),
    (
        "There are {n} main ways to improve {a}.",
        "{a}を改善する主な方法は{n}つあります。",
        "改善{a}的主要方法有{n}种。",
    ),
    (
        "Many people rely on {a} every day to manage {b}.",
        "多くの人が毎日{a}を利用して{b}を管理しています。",
        "许多人每天依靠{a}来管理{b}。",
    ),
    (
        "In {year}, about {pct}% of companies invested in {a}.",
        "{year}年には、約{pct}%の企業が{a}に投資しました。",
        "{year}年，大约{pct}%的公司投资了{a}。",
    ),
    (
        "It is important to understand how {a} affects {b}.",
        "{a}が{b}にどのような影響を与えるのかを理解することが大切です。",
        "了解{a}如何影响{b}非常重要。",
    ),
    (
        "For example, {a} can reduce the cost of {b} by {pct}%.",
        "例えば、{a}によって{b}のコストを{pct}%削減できます。",
        "例如，{a}可以将{b}的成本降低{pct}%。",
    ),
    (
        "You can find more information at {url}.",
        "詳しい情報は{url}で確認できます。",
        "你可以在{url}找到更多信息。",
    ),
    ('As the saying goes, "{q}"', "「{q}」ということわざがあります。", "俗话说：“{q}”"),
    (
        "The first step is to define {a}, and the second is to measure {b}.",
        "最初のステップは{a}を定義することで、次のステップは{b}を測定することです。",
        "第一步是定义{a}，第二步是衡量{b}。",
    ),
    (
        "The total comes to {n} items, or ${price}.",
        "合計は{n}点で、{price}ドルになります。",
        "总计{n}件，共{price}美元。",
    ),
    (
        "{A} has grown rapidly over the past {n} years.",
        "{a}は過去{n}年間で急速に成長しました。",
        "{a}在过去{n}年中迅速发展。",
    ),
    (
        "However, {a} also has drawbacks, such as high costs and limited {b}.",
        "しかし、{a}にはコストが高いことや{b}が限られていることなどの欠点もあります。",
        "然而，{a}也有一些缺点，例如成本高以及{b}有限。",
    ),
    (
        "In conclusion, {a} and {b} are closely related.",
        "結論として、{a}と{b}は密接に関係しています。",
        "总之，{a}与{b}密切相关。",
    ),
    (
        "This approach saves time and makes {a} easier to use. {e}",
        "この方法は時間を節約し、{a}をより使いやすくします。{e}",
        "这种方法可以节省时间，并使{a}更易于使用。{e}",
    ),
    (
        "Scientists believe that {a} will change the way we think about {b}.",
        "科学者たちは、{a}が{b}に対する私たちの考え方を変えると考えています。",
        "科学家们认为，{a}将改变我们对{b}的看法。",
    ),
    (
        "The report is saved as C:\\Users\\{user}\\Documents\\report_{n}.txt.",
        "レポートはC:\\Users\\{user}\\Documents\\report_{n}.txtとして保存されています。",
        "报告保存为C:\\Users\\{user}\\Documents\\report_{n}.txt。",
    ),
    (
        'The term "{a}" is often used when discussing {b}.',
        '"{a}"という言葉は、{b}について議論する際によく使われます。',
        '在讨论{b}时，经常使用"{a}"这个说法。',
    ),
    (
        "According to a survey of {n} people, {pct}% prefer {a}.",
        "{n}人を対象にした調査によると、{pct}%の人が{a}を好んでいます。",
        "根据一项针对{n}人的调查，{pct}%的人更喜欢{a}。",
    ),
    (
        "Governments should support {a} to protect {b}.",
        "政府は{b}を守るために{a}を支援するべきです。",
        "政府应该支持{a}以保护{b}。",
    ),
    (
        "With better {a}, we can expect a {pct}% increase in {b} by {year}.",
        "{a}が改善されれば、{year}年までに{b}が{pct}%向上すると期待できます。",
        "随着{a}的改善，预计到{year}年{b}将提高{pct}%。",
    ),
    (
        "Each step takes about {n} minutes, so plan accordingly.",
        "各ステップには約{n}分かかるので、余裕を持って計画しましょう。",
        "每个步骤大约需要{n}分钟，请提前做好计划。",
    ),
    (
        "Small changes in {a} can make a big difference {e}",
        "{a}を少し変えるだけで、大きな違いが生まれます{e}",
        "{a}上的小改变可以带来很大的不同{e}",
    ),
    (
        "Experts recommend reviewing {a} at least once every {n} months.",
        "専門家は、少なくとも{n}か月に一度は{a}を見直すことを勧めています。",
        "专家建议至少每{n}个月检查一次{a}。",
    ),
    (
        "{A} is not only about technology; it is also about people.",
        "{a}は技術だけの問題ではなく、人の問題でもあります。",
        "{a}不仅关乎技术，也关乎人。",
    ),
]

# Sentences that carry numbers: used as inputs of "extract the numbers" tasks.
NUMBER_SENTENCES: list[Tri] = [s for s in SENTENCES if "{pct}" in s[0] or "{year}" in s[0]]

PROVERBS: list[Tri] = [
    ("Practice makes perfect.", "習うより慣れよ。", "熟能生巧。"),
    ("Time is money.", "時は金なり。", "时间就是金钱。"),
    ("Knowledge is power.", "知識は力なり。", "知识就是力量。"),
    ("More haste, less speed.", "急がば回れ。", "欲速则不达。"),
    ("Actions speak louder than words.", "言葉より行動が大事だ。", "行动胜于言语。"),
]

EMOJI: list[str] = ["🙂", "🚀", "🎉", "🌱", "💡", "✅", "📈", "🔥", "👍", "🤖"]
USERS: list[str] = ["alice", "bob", "tanaka", "wang", "admin"]
URL_HOSTS: list[str] = [
    "https://www.example.com/articles/",
    "https://docs.example.org/guide/",
    "http://example.net/blog/",
    "https://data.example.com/api/v2/items?id=",
    "https://www.example.org/search?q=alpaca&page=",
]

# Instruction kinds. Each: (name, weight, instruction template, has_input).
INSTRUCTIONS: dict[str, Tri] = {
    "explain": (
        "Explain the concept of {a} in simple terms.",
        "{a}の概念をわかりやすく説明してください。",
        "用简单的语言解释{a}的概念。",
    ),
    "describe": (
        "Describe the relationship between {a} and {b}.",
        "{a}と{b}の関係について説明してください。",
        "描述{a}与{b}之间的关系。",
    ),
    "paragraph": (
        "Write a short paragraph about the impact of {a}.",
        "{a}の影響について短い段落を書いてください。",
        "写一段关于{a}影响的短文。",
    ),
    "list": (
        "Generate a list of {n} tips for improving {a}.",
        "{a}を改善するためのヒントを{n}つ挙げてください。",
        "列出{n}条改善{a}的建议。",
    ),
    "code": (
        "Write a Python function that {task}.",
        "{task}Python関数を書いてください。",
        "编写一个{task}的Python函数。",
    ),
    "calc": (
        "Calculate {x} multiplied by {y}.",
        "{x}に{y}を掛けた値を計算してください。",
        "计算{x}乘以{y}。",
    ),
    "url": (
        "Where can I find the official documentation for {lib}?",
        "{lib}の公式ドキュメントはどこで見られますか？",
        "在哪里可以找到{lib}的官方文档？",
    ),
    "table": (
        "Create a table comparing {a} and {b}.",
        "{a}と{b}を比較する表を作成してください。",
        "创建一个比较{a}和{b}的表格。",
    ),
    "social": (
        "Write a short social media post about {a}.",
        "{a}についての短いSNS投稿を書いてください。",
        "写一条关于{a}的简短社交媒体帖子。",
    ),
    "classify": (
        "Classify the following review as positive or negative.",
        "次のレビューをポジティブかネガティブに分類してください。",
        "将以下评论分类为正面或负面。",
    ),
    "summarize": (
        "Summarize the following text in one sentence.",
        "次の文章を一文で要約してください。",
        "用一句话总结以下文本。",
    ),
    "rewrite": (
        "Rewrite the following sentence to make it more formal.",
        "次の文をよりフォーマルな表現に書き直してください。",
        "将下面的句子改写得更正式。",
    ),
    "fix_code": (
        "Find the bug in the following code and fix it.",
        "次のコードのバグを見つけて修正してください。",
        "找出以下代码中的错误并修复。",
    ),
    "extract": (
        "Extract all the numbers from the following text.",
        "次の文章からすべての数値を抽出してください。",
        "从以下文本中提取所有数字。",
    ),
}

# Weights of the instruction kinds; the kinds with an input add up to 40 of 100.
KIND_WEIGHTS: dict[str, int] = {
    "explain": 12,
    "describe": 8,
    "paragraph": 10,
    "list": 10,
    "code": 6,
    "calc": 4,
    "url": 3,
    "table": 3,
    "social": 4,
    "classify": 9,
    "summarize": 10,
    "rewrite": 8,
    "fix_code": 5,
    "extract": 8,
}

LIST_INTRO: Tri = (
    "Here are {n} tips for improving {a}:",
    "{a}を改善するための{n}つのヒントを紹介します。",
    "以下是改善{a}的{n}条建议：",
)
LIST_ITEMS: list[Tri] = [
    ("Set clear goals for {a}.", "{a}について明確な目標を設定する。", "为{a}设定明确的目标。"),
    ("Track your progress every {n} days.", "{n}日ごとに進捗を記録する。", "每{n}天记录一次进度。"),
    ("Learn from experts in {b}.", "{b}の専門家から学ぶ。", "向{b}领域的专家学习。"),
    (
        "Use reliable tools and resources.",
        "信頼できるツールやリソースを使う。",
        "使用可靠的工具和资源。",
    ),
    ("Ask for feedback regularly.", "定期的にフィードバックをもらう。", "定期征求反馈。"),
    (
        "Avoid common mistakes, such as ignoring {b}.",
        "{b}を無視するなど、よくある間違いを避ける。",
        "避免常见错误，例如忽视{b}。",
    ),
    (
        "Take short breaks to stay focused.",
        "集中力を保つために短い休憩を取る。",
        "适当休息以保持专注。",
    ),
    ("Read the guide at {url}.", "{url}のガイドを読む。", "阅读{url}上的指南。"),
    (
        "Compare at least {n} options before deciding.",
        "決める前に少なくとも{n}つの選択肢を比べる。",
        "做决定前至少比较{n}个选项。",
    ),
]

CODE_TASKS: list[tuple[Tri, str]] = [
    (
        ("returns the sum of a list of numbers", "数値のリストの合計を返す", "返回数字列表之和"),
        'def total(numbers):\n    """Return the sum of a list of numbers."""\n    result = 0\n'
        "    for n in numbers:\n        result += n\n    return result\n\n"
        "print(total([{x}, {y}, {n}]))",
    ),
    (
        (
            "extracts all email addresses from a string",
            "文字列からすべてのメールアドレスを抽出する",
            "从字符串中提取所有电子邮件地址",
        ),
        'import re\n\n\ndef find_emails(text):\n    pattern = r"[\\w.+-]+@[\\w-]+\\.[\\w.]+"\n'
        "    return re.findall(pattern, text)\n\n"
        'print(find_emails("Contact: info@example.com, sales{n}@example.org"))',
    ),
    (
        (
            "prints every row of a tab-separated file",
            "タブ区切りファイルのすべての行を表示する",
            "打印制表符分隔文件每一行",
        ),
        'import csv\n\nwith open("data_{n}.tsv", newline="") as f:\n'
        '\tfor row in csv.reader(f, delimiter="\\t"):\n\t\tprint(" | ".join(row))',
    ),
    (
        ("checks whether a number is prime", "数が素数かどうかを判定する", "判断一个数是否为素数"),
        "def is_prime(n):\n    if n < 2:\n        return False\n    i = 2\n"
        "    while i * i <= n:\n        if n % i == 0:\n            return False\n"
        "        i += 1\n    return True\n\nprint(is_prime({x}))",
    ),
    (
        ("reverses a string", "文字列を逆順にする", "反转字符串"),
        'def reverse(s):\n    return s[::-1]\n\nprint(reverse("hello\\nworld {n}"))',
    ),
    (
        (
            "counts how often each word appears in a text",
            "テキスト内の各単語の出現回数を数える",
            "统计文本中每个单词出现次数",
        ),
        "from collections import Counter\n\n\ndef word_counts(text):\n"
        "    return Counter(text.lower().split())\n\n"
        'for word, count in word_counts("the cat and the hat").most_common({n}):\n'
        '    print(f"{word!r}: {count}")',
    ),
]

CODE_INTRO: Tri = (
    "Here is a Python function that does this:",
    "以下は、この処理を行うPython関数です。",
    "下面是实现该功能的Python函数：",
)
CODE_OUTRO: Tri = (
    "The function runs in O(n) time, where n is the size of the input.",
    "この関数の計算量はO(n)で、nは入力のサイズです。",
    "该函数的时间复杂度为O(n)，其中n是输入的大小。",
)

BUGGY_CODE: list[tuple[str, str, Tri]] = [
    (
        "def average(values):\n    return sum(values) / len(value)",
        "def average(values):\n    return sum(values) / len(values)",
        (
            "The variable name is wrong: `value` should be `values`.",
            "変数名が間違っています。`value`は`values`にする必要があります。",
            "变量名写错了：`value`应该是`values`。",
        ),
    ),
    (
        'for i in range({n}):\nprint("Line", i)',
        'for i in range({n}):\n    print("Line", i)',
        (
            "The body of the loop must be indented.",
            "ループの本体はインデントする必要があります。",
            "循环体必须缩进。",
        ),
    ),
    (
        'path = "C:\\new\\table_{n}.csv"\nprint(open(path).read())',
        'path = r"C:\\new\\table_{n}.csv"\nprint(open(path).read())',
        (
            'Backslashes in "C:\\new" start escape sequences; use a raw string.',
            '"C:\\new"のバックスラッシュはエスケープシーケンスになるので、raw文字列を使います。',
            '"C:\\new"中的反斜杠会被当作转义序列，应使用原始字符串。',
        ),
    ),
]

FIX_INTRO: Tri = (
    "Here is the corrected code:",
    "修正したコードは次のとおりです。",
    "修正后的代码如下：",
)

CALC_ANSWER: Tri = ("{x} multiplied by {y} is {z}.", "{x}×{y}は{z}です。", "{x}乘以{y}等于{z}。")

LIBRARIES: list[tuple[str, str]] = [
    ("NumPy", "https://numpy.org/doc/stable/"),
    ("pandas", "https://pandas.pydata.org/docs/"),
    ("Django", "https://docs.djangoproject.com/en/5.0/"),
    ("React", "https://react.dev/learn"),
    ("Rust", "https://doc.rust-lang.org/book/"),
]
URL_ANSWER: Tri = (
    "The official documentation for {lib} is available at {url}. It includes tutorials, "
    "an API reference and many examples.",
    "{lib}の公式ドキュメントは{url}で公開されています。チュートリアル、APIリファレンス、"
    "多くのサンプルが含まれています。",
    "{lib}的官方文档位于{url}，其中包括教程、API参考和大量示例。",
)

TABLE_INTRO: Tri = (
    "Here is a comparison of {a} and {b}:",
    "{a}と{b}の比較は次のとおりです。",
    "以下是{a}和{b}的比较：",
)
TABLE_HEADER: Tri = ("Aspect\t{A}\t{B}", "項目\t{a}\t{b}", "方面\t{a}\t{b}")
TABLE_ASPECTS: list[Tri] = [
    ("Cost", "コスト", "成本"),
    ("Growth rate", "成長率", "增长率"),
    ("Adoption", "普及率", "普及率"),
    ("Risk", "リスク", "风险"),
]

REVIEWS: list[tuple[Tri, bool]] = [
    (
        (
            "The product arrived on time and works perfectly.",
            "商品は時間通りに届き、問題なく動作しています。",
            "产品按时送达，运行完美。",
        ),
        True,
    ),
    (
        (
            "I waited {n} days and the package never came.",
            "{n}日待ちましたが、荷物は届きませんでした。",
            "我等了{n}天，包裹一直没到。",
        ),
        False,
    ),
    (
        (
            "The staff were friendly and the food was delicious!",
            "スタッフは親切で、料理もとても美味しかったです！",
            "员工很友好，食物也很美味！",
        ),
        True,
    ),
    (
        (
            "Terrible experience. The app crashed {n} times in 1 hour.",
            "最悪の体験でした。アプリが1時間に{n}回もクラッシュしました。",
            "糟糕的体验。应用程序在1小时内崩溃了{n}次。",
        ),
        False,
    ),
    (
        (
            "Great value for ${price}. Highly recommended {e}",
            "{price}ドルでこの品質はお得です。とてもおすすめです{e}",
            "{price}美元物超所值，强烈推荐{e}",
        ),
        True,
    ),
]
LABELS: dict[bool, Tri] = {
    True: ("Positive", "ポジティブ", "正面"),
    False: ("Negative", "ネガティブ", "负面"),
}

REWRITES: list[tuple[Tri, Tri]] = [
    (
        ("gonna be late, traffic is crazy", "渋滞がひどいから遅れるね", "路上太堵了，我要迟到了"),
        (
            "I apologize, but I will be late due to heavy traffic.",
            "大変申し訳ございませんが、交通渋滞のため遅れます。",
            "非常抱歉，由于交通拥堵，我将会迟到。",
        ),
    ),
    (
        ("can u send me the file asap?", "ファイルすぐ送ってくれる？", "能尽快把文件发给我吗？"),
        (
            "Could you please send me the file at your earliest convenience?",
            "お手数ですが、できるだけ早くファイルをお送りいただけますでしょうか。",
            "能否请您尽快将文件发送给我？",
        ),
    ),
    (
        ("the meeting got moved to {n} pm", "会議、{n}時に変わったよ", "会议改到下午{n}点了"),
        (
            "Please note that the meeting has been rescheduled to {n} p.m.",
            "会議は午後{n}時に変更されましたので、ご確認ください。",
            "请注意，会议已改至下午{n}点。",
        ),
    ),
    (
        ("thx for the help!!", "手伝ってくれてありがと！！", "谢啦，帮大忙了！！"),
        (
            "Thank you very much for your assistance.",
            "ご協力いただき、誠にありがとうございます。",
            "非常感谢您的协助。",
        ),
    ),
]

# Separators between sentences and between list items, per language.
SENTENCE_SEP: Tri = (" ", "", "")
LIST_SEP: Tri = (", ", "、", "、")
