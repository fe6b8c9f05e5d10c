//! Word lists for names, community names, venues and enterprises, mobile numbers and plates:
//! enough variety to look real, small enough to stay in cache.

use crate::rng::Rng;

/// Common surnames with rough relative frequencies (the top of the 2019 household register).
pub const SURNAMES: &[(&str, f64)] = &[
    ("王", 7.1),
    ("李", 7.0),
    ("张", 6.7),
    ("刘", 5.4),
    ("陈", 4.5),
    ("杨", 3.1),
    ("黄", 2.2),
    ("赵", 2.0),
    ("吴", 1.9),
    ("周", 1.9),
    ("徐", 1.5),
    ("孙", 1.4),
    ("马", 1.3),
    ("朱", 1.3),
    ("胡", 1.2),
    ("郭", 1.1),
    ("何", 1.1),
    ("林", 1.0),
    ("高", 1.0),
    ("罗", 0.9),
    ("郑", 0.9),
    ("梁", 0.8),
    ("谢", 0.7),
    ("宋", 0.7),
    ("唐", 0.7),
    ("许", 0.6),
    ("韩", 0.6),
    ("冯", 0.6),
    ("邓", 0.6),
    ("曹", 0.6),
    ("彭", 0.5),
    ("曾", 0.5),
    ("肖", 0.5),
    ("田", 0.5),
    ("董", 0.5),
    ("潘", 0.4),
    ("袁", 0.4),
    ("蔡", 0.4),
    ("蒋", 0.4),
    ("余", 0.4),
    ("叶", 0.4),
    ("程", 0.4),
    ("苏", 0.3),
    ("魏", 0.3),
    ("吕", 0.3),
    ("丁", 0.3),
    ("沈", 0.3),
    ("任", 0.3),
    ("姚", 0.3),
    ("卢", 0.3),
    ("金", 0.3),
    ("戴", 0.2),
    ("方", 0.2),
    ("钱", 0.2),
    ("汪", 0.2),
    ("应", 0.1),
];

const GIVEN_MALE: &[&str] = &[
    "伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏", "华", "飞",
    "鑫", "波", "宇", "浩", "建国", "建华", "志强", "海涛", "晓东", "文博", "子轩", "浩然", "宇航",
    "俊杰", "国平", "永康", "德明", "家豪", "一鸣", "思远",
];
const GIVEN_FEMALE: &[&str] = &[
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "燕", "玲", "婷", "雪", "慧", "颖", "琳", "洁",
    "秀英", "桂英", "玉兰", "晓燕", "丽娟", "海燕", "雅琪", "梓涵", "欣怡", "诗涵", "佳怡", "可馨",
    "美玲", "春梅", "秀珍", "雨桐", "思琪", "文静",
];

pub fn surname(rng: &mut Rng) -> &'static str {
    let total: f64 = 80.4;
    let mut x = rng.f64() * total;
    for (s, w) in SURNAMES {
        if x < *w {
            return s;
        }
        x -= w;
    }
    SURNAMES[0].0
}

pub fn given(rng: &mut Rng, male: bool) -> &'static str {
    if male {
        GIVEN_MALE[rng.below(GIVEN_MALE.len() as u64) as usize]
    } else {
        GIVEN_FEMALE[rng.below(GIVEN_FEMALE.len() as u64) as usize]
    }
}

/// Writes an 11-digit mobile number `1[3-9]x xxxx xxxx`.
pub fn push_phone(out: &mut Vec<u8>, rng: &mut Rng) {
    const SECOND: &[u8] = b"3456789";
    out.push(b'1');
    out.push(*rng.pick(SECOND));
    let mut n = rng.below(1_000_000_000);
    let start = out.len();
    for _ in 0..9 {
        out.push(b'0' + (n % 10) as u8);
        n /= 10;
    }
    out[start..].reverse();
}

const COMMUNITY_A: &[&str] = &[
    "东", "西", "南", "北", "新", "江", "河", "湖", "山", "松", "柳", "桂", "荷", "梅", "兴", "华",
    "安", "康", "和", "平", "瑞", "丰", "学", "龙", "凤", "锦", "翠", "银", "金", "光", "永", "长",
];
const COMMUNITY_B: &[&str] = &[
    "门", "塘", "湾", "桥", "园", "苑", "城", "庄", "浦", "洲", "港", "岭", "坊", "街", "溪", "岙",
    "林", "台", "亭", "阳",
];
const COMMUNITY_C: &[&str] = &["社区", "社区", "社区", "村", "新村", "花园社区"];

/// A community name such as `东塘社区`, fixed by the community's key.
pub fn community_name(key: u64) -> String {
    let mut r = Rng::new(key);
    let a = r.pick(COMMUNITY_A);
    let b = r.pick(COMMUNITY_B);
    let c = r.pick(COMMUNITY_C);
    format!("{a}{b}{c}")
}

const COMPANY_WORDS: &[&str] = &[
    "瑞丰", "永兴", "华东", "宏达", "鑫源", "金诚", "东方", "正泰", "恒通", "国邦", "天成", "博远",
    "嘉禾", "远洋", "光明", "信达", "汇丰", "海德", "新亚", "联合", "万通", "中科", "盛世", "立信",
];

/// Industries with typical daily electricity use per employee (kWh) and the chance that an
/// enterprise of the industry is critical (kept running through the holiday).
pub const INDUSTRIES: &[(&str, &str, f64, f64, f64)] = &[
    // (industry, name suffix, weight, kWh per employee-day, critical share)
    ("制造业-鞋服", "鞋业", 10.0, 18.0, 0.0),
    ("制造业-电气机械", "电气", 9.0, 45.0, 0.02),
    ("制造业-汽摩配件", "汽配", 6.0, 60.0, 0.0),
    ("制造业-化工", "化工", 2.0, 150.0, 0.05),
    ("制造业-食品", "食品", 3.0, 40.0, 0.2),
    ("制造业-医药", "药业", 1.0, 55.0, 0.6),
    ("批发零售", "商贸", 12.0, 8.0, 0.02),
    ("住宿餐饮", "餐饮", 5.0, 15.0, 0.0),
    ("建筑业", "建设", 5.0, 6.0, 0.0),
    ("交通运输-物流", "物流", 4.0, 10.0, 0.15),
    ("信息技术", "科技", 4.0, 12.0, 0.02),
    ("电力燃气水", "能源", 0.6, 200.0, 1.0),
    ("金融", "金融服务", 1.5, 10.0, 0.1),
    ("卫生", "医疗", 0.8, 25.0, 1.0),
];

/// Index of the logistics industry in [`INDUSTRIES`] (its drivers make truck runs).
pub const LOGISTICS: usize = 9;

pub fn company_name(county_short: &str, rng: &mut Rng, suffix: &str) -> String {
    let w = rng.pick(COMPANY_WORDS);
    format!("{county_short}{w}{suffix}有限公司")
}

pub const SKILLS: &[&str] = &[
    "普工",
    "电工",
    "焊工",
    "叉车司机",
    "货车司机",
    "厨师",
    "销售",
    "会计",
    "仓管",
    "质检",
    "数控操作",
    "缝纫",
    "护理",
    "快递员",
    "软件开发",
    "保安",
];

/// A short place name: `温州市` → `温州`, `鹿城区` → `鹿城`, `恩施土家族苗族自治州` → `恩施`.
pub fn short_name(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() <= 2 {
        return name.to_string();
    }
    for marker in ["土家族", "苗族", "藏族", "回族", "蒙古族", "自治"] {
        if let Some(pos) = name.find(marker) {
            let head: String = name[..pos].to_string();
            if head.chars().count() >= 2 {
                return head;
            }
        }
    }
    let last = chars[chars.len() - 1];
    if matches!(last, '市' | '区' | '县' | '州' | '盟' | '省') {
        let s: String = chars[..chars.len() - 1].iter().collect();
        if s.chars().count() >= 2 {
            return s;
        }
    }
    if name.ends_with("地区") && chars.len() > 3 {
        return chars[..chars.len() - 2].iter().collect();
    }
    name.to_string()
}

/// The one-character province prefix of licence plates.
pub fn plate_province(province: u32) -> &'static str {
    match province / 10_000 {
        11 => "京",
        12 => "津",
        13 => "冀",
        14 => "晋",
        15 => "蒙",
        21 => "辽",
        22 => "吉",
        23 => "黑",
        31 => "沪",
        32 => "苏",
        33 => "浙",
        34 => "皖",
        35 => "闽",
        36 => "赣",
        37 => "鲁",
        41 => "豫",
        42 => "鄂",
        43 => "湘",
        44 => "粤",
        45 => "桂",
        46 => "琼",
        50 => "渝",
        51 => "川",
        52 => "贵",
        53 => "云",
        54 => "藏",
        61 => "陕",
        62 => "甘",
        63 => "青",
        64 => "宁",
        65 => "新",
        _ => "浙",
    }
}

/// The letter after the province character: the real ones for Zhejiang and Hubei, otherwise
/// the prefecture's position in code order (A, B, C … without I and O).
pub fn plate_letter(prefecture: u32) -> char {
    let real = match prefecture {
        330100 => Some('A'),
        330200 => Some('B'),
        330300 => Some('C'),
        330400 => Some('F'),
        330500 => Some('E'),
        330600 => Some('D'),
        330700 => Some('G'),
        330800 => Some('H'),
        330900 => Some('L'),
        331000 => Some('J'),
        331100 => Some('K'),
        420100 => Some('A'),
        420200 => Some('B'),
        420300 => Some('C'),
        420500 => Some('E'),
        420600 => Some('F'),
        420700 => Some('G'),
        420800 => Some('H'),
        420900 => Some('K'),
        421000 => Some('D'),
        421100 => Some('J'),
        421200 => Some('L'),
        421300 => Some('S'),
        422800 => Some('Q'),
        _ => None,
    };
    real.unwrap_or_else(|| {
        const LETTERS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
        let pos = (prefecture / 100 % 100).saturating_sub(1) as usize;
        char::from(LETTERS[pos.min(LETTERS.len() - 1)])
    })
}

/// A plate such as `浙C3K7Q2`, fixed by `key`.
pub fn plate(prefecture: u32, key: u64) -> String {
    const CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut r = Rng::new(key);
    let mut s = String::with_capacity(12);
    s.push_str(plate_province(prefecture));
    s.push(plate_letter(prefecture));
    for i in 0..5 {
        // Mostly digits, as on real plates.
        let c = if i == 0 || r.chance(0.75) {
            b'0' + r.below(10) as u8
        } else {
            CHARS[10 + r.below((CHARS.len() - 10) as u64) as usize]
        };
        s.push(char::from(c));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        assert_eq!(short_name("温州市"), "温州");
        assert_eq!(short_name("鹿城区"), "鹿城");
        assert_eq!(short_name("恩施土家族苗族自治州"), "恩施");
        assert_eq!(short_name("永嘉县"), "永嘉");
        assert_eq!(short_name("神农架林区"), "神农架林");
    }

    #[test]
    fn phones_are_mobiles() {
        let mut r = Rng::new(1);
        for _ in 0..100 {
            let mut v = Vec::new();
            push_phone(&mut v, &mut r);
            assert_eq!(v.len(), 11);
            assert_eq!(v[0], b'1');
            assert!((b'3'..=b'9').contains(&v[1]));
        }
        assert!(plate(330300, 5).starts_with("浙C"));
        assert_eq!(INDUSTRIES[LOGISTICS].0, "交通运输-物流");
        assert!(plate(420100, 5).starts_with("鄂A"));
    }
}
