"""Generate Chinese banking and industry briefs for search benchmarks.

The generator builds sentences from templates and vocabulary lists written for this
benchmark. The text mixes Chinese with Latin abbreviations (LPR, NIM, HVDC, 800V),
figures, percentages, amounts and dates, as credit briefs do. Words are drawn with
Zipf-like weights, so a few words (银行, 贷款, 增长) occur in most documents and many
occur in few. The same seed always yields the same documents and the same queries.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate

# fmt: off
INDUSTRIES: tuple[tuple[str, str], ...] = (
    ("C36", "汽车制造业"),
    ("C38", "电气机械和器材制造业"),
    ("C39", "计算机、通信和其他电子设备制造业"),
    ("C26", "化学原料和化学制品制造业"),
    ("C27", "医药制造业"),
    ("C31", "黑色金属冶炼和压延加工业"),
    ("C30", "非金属矿物制品业"),
    ("D44", "电力、热力生产和供应业"),
    ("E47", "房屋建筑业"),
    ("E48", "土木工程建筑业"),
    ("F51", "批发业"),
    ("F52", "零售业"),
    ("G54", "道路运输业"),
    ("G58", "多式联运和运输代理业"),
    ("I65", "软件和信息技术服务业"),
    ("K70", "房地产业"),
    ("A01", "农业"),
    ("B06", "煤炭开采和洗选业"),
    ("H62", "餐饮业"),
    ("M73", "研究和试验发展"),
)

SECTORS = (
    "新能源汽车", "动力电池", "光伏", "风电", "储能", "特高压", "半导体", "消费电子",
    "工程机械", "钢铁", "水泥", "化工", "创新药", "医疗器械", "物流", "跨境电商",
    "商业地产", "保障性住房", "数据中心", "算力", "农业机械", "冷链", "白酒",
    "餐饮连锁",
)

TECH_TERMS = (
    "HVDC", "800V", "5G", "AI", "SiC", "IGBT", "GPU", "TOPCon", "BMS", "ESG", "PCB",
    "OLED", "EPC", "REITs", "LNG", "CCER",
)

# A Chinese term, its usual Latin abbreviation and the unit of its figure. Where the
# abbreviation is the unit itself (GWh), the text shows no abbreviation in brackets.
ABBREVIATED_TERMS = (
    ("净息差", "NIM", "%"),
    ("资本充足率", "CAR", "%"),
    ("净资产收益率", "ROE", "%"),
    ("抵押率", "LTV", "%"),
    ("违约概率", "PD", "%"),
    ("违约损失率", "LGD", "%"),
    ("年复合增长率", "CAGR", "%"),
    ("偿债覆盖率", "DSCR", "倍"),
    ("风险加权资产", "RWA", "亿元"),
    ("储能装机", "GWh", "GWh"),
    ("光伏新增装机", "GW", "GW"),
    ("数据中心能效", "PUE", ""),
)

POLICY_TERMS = (
    "LPR", "MLF", "降准", "存款准备金率", "专项债", "再贷款", "PSL", "逆回购",
    "普惠金融", "绿色金融", "科技金融", "稳增长", "以旧换新", "设备更新",
)

PRODUCTS = (
    "流动资金贷款", "固定资产贷款", "项目贷款", "银团贷款", "续贷", "无还本续贷",
    "供应链金融", "应收账款保理", "票据贴现", "银行承兑汇票", "国内信用证",
    "并购贷款", "经营性物业贷款", "普惠小微贷款", "绿色信贷", "跨境结算",
    "现金管理", "债券承销", "融资租赁", "知识产权质押融资",
)

RISK_TERMS = (
    "不良率", "关注类贷款", "逾期", "展期", "担保圈", "隐性债务", "产能过剩",
    "应收账款周转", "存货减值", "资产负债率", "现金流缺口", "集中度风险",
    "信用风险", "流动性风险", "汇率风险", "价格战",
)

METRICS = (
    "营业收入", "净利润", "毛利率", "出货量", "装机量", "产量", "销量", "订单金额",
    "资本开支", "经营性现金流", "开工率", "库存周期", "渗透率", "市场份额",
)

FACTORS = (
    "原材料价格回落", "海外需求放缓", "政策支持加码", "行业竞争加剧", "融资成本下降",
    "下游补库存", "出口订单回暖", "产能集中释放", "技术路线切换", "地产销售低迷",
    "基建投资提速", "消费信心修复",
)

REGIONS = (
    "长三角", "珠三角", "京津冀", "成渝地区", "中部地区", "东北地区", "粤港澳大湾区",
    "西部陆海新通道沿线", "山东半岛", "闽东南",
)

CITY_PREFIXES = (
    "江南", "华岳", "中原", "粤海", "蜀道", "东方", "北辰", "南岭", "金桥", "鼎盛",
    "瑞丰", "恒远", "宏达", "天衡", "泰和", "海川", "新安", "嘉禾", "永泰", "润华",
    "远景", "星河", "青山", "同心", "博雅", "联创", "启明", "万象", "长河", "安澜",
)

COMPANY_CORES = (
    "新能源", "电气", "半导体", "精密制造", "化学", "生物医药", "物流", "建材",
    "钢铁", "智能装备", "电子", "汽车零部件", "光电", "数据", "农业", "食品",
)

COMPANY_SUFFIXES = (
    "股份有限公司", "集团有限公司", "科技有限公司", "控股集团", "实业有限公司",
)

# Tags are stored normalized (case-folded), hence "esg".
TAGS = (
    "新能源", "授信", "风险预警", "产业链", "政策解读", "利率", "绿色金融", "小微企业",
    "并购", "出口", "房地产", "基建", "科技创新", "esg", "数字化", "区域经济",
    "周期行业", "消费", "半导体", "碳中和",
)

COMMON_WORDS = (
    "银行", "贷款", "企业", "增长", "行业", "市场", "客户", "融资", "项目", "需求",
    "政策", "风险", "资金", "投资", "利率", "经营", "规模", "价格", "产能", "收入",
)

# Subjects that combine the common words the way briefs do.
COMMON_SUBJECTS = (
    "银行信贷投放", "企业融资需求", "项目投资进度", "市场需求", "客户经营状况",
    "企业资金周转", "贷款利率水平", "产品价格", "产能利用率", "营业收入规模",
    "行业投资增速", "客户融资成本", "银行风险偏好", "项目资金到位率", "行业集中度",
)

CONNECTORS = (
    "与此同时", "从结构上看", "总体来看", "值得关注的是", "另一方面", "具体而言",
    "据调研", "在此背景下", "综合判断", "短期内", "中长期看",
)

ACTIONS = (
    "建议适度增加授信额度", "建议维持现有授信规模", "建议压降敞口并追加担保",
    "建议优先支持龙头企业", "建议加强贷后检查频率", "建议跟踪回款进度",
    "建议以项目现金流作为第一还款来源", "建议关注上下游账期变化",
)

TITLE_TOPICS = (
    "行业运行简报", "授信策略", "景气度跟踪", "风险提示", "政策点评", "产业链调研",
    "月度观察", "季度展望", "专题研究", "客户走访纪要",
)

# Words that jieba segments differently inside sentences ("流动资金贷款" becomes
# 流动资金/贷款, so "资金贷" is no token of it), to test substring recall.
SPLIT_WORDS = ("续贷", "贷款余额", "资金贷", "年期", "回款")

SINGLE_CHARACTERS = ("贷", "银", "险", "债")

QUERY_POOLS = (
    COMMON_WORDS, SECTORS, PRODUCTS, RISK_TERMS, METRICS, POLICY_TERMS, TECH_TERMS,
    REGIONS, FACTORS, CITY_PREFIXES, TAGS,
)
# fmt: on


def _zipf_cumulative_weights(count: int, exponent: float = 1.0) -> list[float]:
    return list(accumulate(1.0 / (rank**exponent) for rank in range(1, count + 1)))


@dataclass(frozen=True)
class GeneratedDoc:
    """One generated brief with the fields that a search document needs.

    ``summary`` is the opening sentences of ``body``, as in a brief's lede.
    """

    number: int
    title: str
    summary: str
    body: str
    published_at: datetime
    tags: tuple[str, ...]
    industry_codes: tuple[str, ...]
    industry_names: tuple[str, ...]


class TextGenerator:
    """Seeded generator of briefs and of search queries drawn from the same words.

    Documents and queries use separate random streams, so the queries of a seed do
    not depend on how many documents were generated before them.
    """

    def __init__(self, seed: int = 20240601):
        self.rng = random.Random(seed)
        self.query_rng = random.Random(seed + 1)
        self.companies = self._make_companies(400)
        self._cumulative_weights: dict[int, list[float]] = {}

    def _make_companies(self, count: int) -> list[str]:
        names = []
        for _ in range(count):
            prefix = self.rng.choice(CITY_PREFIXES)
            core = self.rng.choice(COMPANY_CORES)
            suffix = self.rng.choice(COMPANY_SUFFIXES)
            names.append(prefix + core + suffix)
        # Shuffle the sorted names, so the most frequent companies (the first ones)
        # do not all share the prefix that sorts first.
        unique = sorted(set(names))
        self.rng.shuffle(unique)
        return unique

    def pick(self, words: Sequence[str], rng: random.Random | None = None) -> str:
        """Draw one word, favouring the first words of ``words`` (Zipf weights)."""
        weights = self._cumulative_weights.get(len(words))
        if weights is None:
            weights = _zipf_cumulative_weights(len(words))
            self._cumulative_weights[len(words)] = weights
        return (rng or self.rng).choices(words, cum_weights=weights)[0]

    def company(self, rng: random.Random | None = None) -> str:
        return self.pick(self.companies, rng)

    def short_company(self, rng: random.Random | None = None) -> str:
        name = self.company(rng)
        for suffix in COMPANY_SUFFIXES:
            if name.endswith(suffix):
                return name[: -len(suffix)]
        return name

    def pct(self) -> str:
        return f"{self.rng.uniform(0.1, 45):.1f}%"

    def amount(self) -> str:
        return f"{self.rng.uniform(0.5, 900):.1f}亿元"

    def year(self, rng: random.Random | None = None) -> int:
        return (rng or self.rng).choice((2021, 2022, 2023, 2024, 2024, 2025, 2025))

    def abbreviated_figure(self, term: tuple[str, str, str]) -> str:
        """Return a phrase such as "净息差（NIM）收窄至1.52%" for ``term``."""
        name, abbreviation, unit = term
        if unit == "%":
            value = f"{self.rng.uniform(0.5, 18):.2f}%"
        elif unit == "倍":
            value = f"{self.rng.uniform(0.8, 3.5):.2f}倍"
        elif unit:
            value = f"{self.rng.uniform(1, 300):.1f}{unit}"
        else:
            value = f"{self.rng.uniform(1.1, 1.6):.2f}"
        verb = self.rng.choice(("升至", "降至", "收窄至", "维持在", "约为"))
        if abbreviation == unit:
            return f"{name}{verb}{value}"
        return f"{name}（{abbreviation}）{verb}{value}"

    def sentence(self) -> str:
        r = self.rng
        kind = r.randrange(18)
        if kind == 0:
            return (
                f"{self.year()}年{r.randint(1, 12)}月，1年期LPR为"
                f"{r.choice(('3.45', '3.35', '3.10', '3.00'))}%，5年期以上LPR为"
                f"{r.choice(('4.20', '3.95', '3.60', '3.50'))}%，"
                f"{self.pick(SECTORS)}贷款{self.pick(RISK_TERMS)}有所"
                f"{r.choice(('改善', '抬升', '分化'))}。"
            )
        if kind == 1:
            return (
                f"{self.company()}{self.year()}年实现{self.pick(METRICS)}{self.amount()}，"
                f"同比{r.choice(('增长', '下降'))}{self.pct()}，"
                f"主要受{self.pick(FACTORS)}影响。"
            )
        if kind == 2:
            return (
                f"{self.pick(REGIONS)}{self.pick(SECTORS)}项目集中开工，"
                f"{self.pick(PRODUCTS)}需求上升，"
                f"部分客户提出{self.pick(PRODUCTS)}申请。"
            )
        if kind == 3:
            return (
                f"{self.pick(TECH_TERMS)}相关{self.pick(SECTORS)}产品"
                f"{self.pick(METRICS)}环比{r.choice(('提升', '回落'))}{self.pct()}，"
                f"{self.pick(CONNECTORS)}，{self.pick(RISK_TERMS)}仍需关注。"
            )
        if kind == 4:
            return (
                f"{self.pick(CONNECTORS)}，{self.pick(POLICY_TERMS)}"
                f"对{self.pick(SECTORS)}的支持力度加大，{self.pick(ACTIONS)}。"
            )
        if kind == 5:
            return (
                f"本行对{self.short_company()}的{self.pick(PRODUCTS)}余额为"
                f"{self.amount()}，较年初{r.choice(('增加', '减少'))}{self.pct()}，"
                f"{self.pick(ACTIONS)}。"
            )
        if kind == 6:
            return (
                f"特高压直流（HVDC）线路带动{self.pick(SECTORS)}设备订单，"
                f"{self.short_company()}中标金额约{self.amount()}。"
            )
        if kind == 7:
            return (
                f"800V高压平台车型渗透率升至{self.pct()}，"
                f"{self.pick(SECTORS)}企业的{self.pick(METRICS)}随之"
                f"{r.choice(('改善', '承压'))}。"
            )
        if kind == 8:
            return (
                f"{self.pick(COMMON_SUBJECTS)}方面，"
                f"{self.pick(FACTORS)}叠加{self.pick(FACTORS)}，"
                f"预计{self.year()}年{self.pick(METRICS)}增速在{self.pct()}左右。"
            )
        if kind == 9:
            return (
                f"5G基站与{self.pick(TECH_TERMS)}应用推动{self.pick(SECTORS)}需求，"
                f"但{self.pick(RISK_TERMS)}和{self.pick(RISK_TERMS)}值得警惕。"
            )
        if kind == 10:
            return (
                f"截至{self.year()}年末，{self.pick(SECTORS)}行业"
                f"{self.pick(RISK_TERMS)}为{self.pct()}，"
                f"{self.pick(CONNECTORS)}，{self.pick(ACTIONS)}。"
            )
        if kind == 11:
            return (
                f"{self.short_company()}拟通过{self.pick(PRODUCTS)}补充营运资金，"
                f"期限{r.choice(('1年', '3年', '5年', '8年'))}，"
                f"利率参考LPR加{r.randint(5, 120)}个基点。"
            )
        if kind == 12:
            return (
                f"{self.pick(('人民银行', '统计局', '行业协会', '海关总署'))}数据显示，"
                f"{self.pick(SECTORS)}{self.pick(METRICS)}连续{r.randint(2, 9)}个月"
                f"{r.choice(('回升', '下滑', '持平'))}。"
            )
        if kind == 13:
            first, second = r.sample(ABBREVIATED_TERMS, 2)
            return (
                f"{self.year()}年Q{r.randint(1, 4)}本行"
                f"{self.abbreviated_figure(first)}，"
                f"{self.abbreviated_figure(second)}，{self.pick(CONNECTORS)}，"
                f"{self.pick(RISK_TERMS)}整体可控。"
            )
        if kind == 14:
            return (
                f"{self.short_company()}"
                f"{self.abbreviated_figure(r.choice(ABBREVIATED_TERMS))}，"
                f"{self.pick(METRICS)}同比（YoY）{r.choice(('+', '-'))}{self.pct()}，"
                f"{self.pick(ACTIONS)}。"
            )
        if kind == 15:
            return (
                f"{self.pick(POLICY_TERMS)}下调{r.choice((5, 10, 15, 20, 25))}bp后，"
                f"{self.pick(COMMON_SUBJECTS)}"
                f"{r.choice(('明显回升', '小幅改善', '仍待观察'))}，"
                f"{self.pick(PRODUCTS)}定价随之调整。"
            )
        if kind == 16:
            return (
                f"据{self.pick(REGIONS)}分行走访，{self.short_company()}"
                f"在手订单约{self.amount()}，"
                f"应收账款账龄多在{r.randint(3, 12)}个月以内，"
                f"{self.pick(RISK_TERMS)}暂未暴露。"
            )
        return (
            f"{self.pick(CONNECTORS)}，{self.pick(REGIONS)}的{self.pick(SECTORS)}客户"
            f"{r.choice(('回款周期拉长', '订单饱满', '扩产意愿强', '去库存压力大'))}，"
            f"{self.pick(COMMON_SUBJECTS)}保持稳定。"
        )

    def paragraph(self) -> list[str]:
        return [self.sentence() for _ in range(self.rng.randint(3, 6))]

    def document(self, number: int, start: datetime) -> GeneratedDoc:
        r = self.rng
        industries = r.sample(INDUSTRIES, r.choice((1, 1, 2, 3)))
        sector = self.pick(SECTORS)
        year = self.year()
        title_kind = r.randrange(3)
        if title_kind == 0:
            title = f"{year}年{sector}{self.pick(TITLE_TOPICS)}"
        elif title_kind == 1:
            title = (
                f"{self.short_company()}{self.pick(TITLE_TOPICS)}"
                f"（{year}年第{r.randint(1, 4)}季度）"
            )
        else:
            title = (
                f"{self.pick(POLICY_TERMS)}变化对{sector}的影响："
                f"{self.pick(TITLE_TOPICS)}"
            )
        paragraphs = [self.paragraph() for _ in range(r.choice((2, 3, 3, 4, 5, 7)))]
        body = "\n\n".join("".join(sentences) for sentences in paragraphs)
        summary = "".join(paragraphs[0][:2])
        published = start + timedelta(minutes=r.randrange(0, 3 * 365 * 24 * 60))
        tags = tuple(sorted(set(r.sample(TAGS, r.randint(1, 4)))))
        return GeneratedDoc(
            number=number,
            title=title,
            summary=summary,
            body=body,
            published_at=published,
            tags=tags,
            industry_codes=tuple(code for code, _ in industries),
            industry_names=tuple(name for _, name in industries),
        )

    def documents(self, count: int) -> Iterator[GeneratedDoc]:
        """Yield documents numbered 1 to ``count``, published from 2022 to 2024."""
        start = datetime(2022, 1, 1, tzinfo=UTC)
        for number in range(1, count + 1):
            yield self.document(number, start)

    def query(self) -> str:
        """Return a query of one to three distinct terms separated by spaces."""
        r = self.query_rng
        count = r.choice((1, 1, 2, 2, 2, 3))
        terms: list[str] = []
        while len(terms) < count:
            term = self._query_term(r)
            if term not in terms:
                terms.append(term)
        return " ".join(terms)

    def _query_term(self, r: random.Random) -> str:
        kind = r.randrange(12)
        if kind < 8:
            return self.pick(r.choice(QUERY_POOLS), r)
        if kind == 8:
            return f"{self.year(r)}年"
        if kind == 9:
            return self.short_company(r)
        if kind == 10:
            return r.choice(SPLIT_WORDS)
        return r.choice(SINGLE_CHARACTERS)
